"""The Discord door's runtime: the bot, the CLI, sandbox mode and the doctor."""
