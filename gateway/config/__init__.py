"""Configuration: TOML settings and YAML dialplans, validated with line-precise errors."""
