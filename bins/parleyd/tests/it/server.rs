//! parleyd as a process: starting with no configuration, restarting, and refusing bad configuration.
