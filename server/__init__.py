"""fieldsales: a backend for mobile field-sales teams."""
