"""One settings tree for the CLI, the reward server, the RL integrations, generation and Ray.

Each value is read from, lowest precedence first: the field's default, a TOML config file
(``--config FILE``, else ``$RUBRICATE_CONFIG``, else ``rubricate.toml`` in the working
directory), a ``RUBRICATE_*`` environment variable, then a flag or keyword argument.
``Settings.load`` records where every value came from (``rubricate config show`` prints it)
and names that place in a validation error. Secrets come only from the environment or a
flag, never from a file, and are never printed.

The tree has one group per concern, each a frozen pydantic model whose fields carry their
flag and environment variable (``Option``)::

    Settings
      judge     JudgeSettings     which judge, its limits, how to grade, the cache
      policy    PolicySettings    the model that writes missing responses
      reward    RewardSettings    how scores become rewards
      serve     ServeSettings     the reward server's address and admission limits
      generate  GenerateSettings  rubric generation
"""

from rubricate.settings._build import build_judge, build_jury, build_policy
from rubricate.settings._groups import (
    GenerateSettings,
    JudgeSettings,
    Option,
    PolicySettings,
    RewardSettings,
    ServeSettings,
    SettingField,
    default_cache_path,
    setting_fields,
)
from rubricate.settings._jury import JuryFile, JuryMemberSpec, read_jury_file
from rubricate.settings._load import CONFIG_ENV, CONFIG_FILE, Settings, find_config_file

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE",
    "GenerateSettings",
    "JudgeSettings",
    "JuryFile",
    "JuryMemberSpec",
    "Option",
    "PolicySettings",
    "RewardSettings",
    "ServeSettings",
    "SettingField",
    "Settings",
    "build_judge",
    "build_jury",
    "build_policy",
    "default_cache_path",
    "find_config_file",
    "read_jury_file",
    "setting_fields",
]
