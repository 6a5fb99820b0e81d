"""Platform adapters: from each platform's wire format to events, and decisions back."""
