"""Request and response models of the API (Base / Create / Update / Public families)."""
