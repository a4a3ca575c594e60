"""hwb-tui: the account-management console and provisioning client for Hwb."""

__version__ = "0.1.0"
