class FieldError(ValueError):
    """Bad input to a service; ``field`` names what was wrong, ``message`` says
    it in words a member can read. Views and the API turn it into their own
    error answers."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message
