"""What a contractor can see about how the system treats them: rules, numbers, their own data."""
