"""Every sentence the assistant says, one module per audience: `citizens` (answers and channel
texts), `reviewers` (the community teams' review chats), `admins` (command line, reloads)."""
