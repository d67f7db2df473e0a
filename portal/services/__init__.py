"""Business operations. Plain functions: explicit actor and org, flush never commit, raise DomainError."""
