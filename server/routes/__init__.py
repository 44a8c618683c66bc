"""HTTP only: parse, authorise, call a service, return a Struct."""
