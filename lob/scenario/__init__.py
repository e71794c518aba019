"""Scenario configs: YAML validated into :class:`ScenarioConfig`; errors name the file, line and key."""

from lob.scenario.config import ScenarioConfig
from lob.scenario.loader import ConfigError, dump_config, load_config, parse_config

__all__ = ["ConfigError", "ScenarioConfig", "dump_config", "load_config", "parse_config"]
