"""The InfluxDB invocable-scripts client: :class:`ScriptsClient`, its models; errors in ``errors``."""

from app.influx.client import ScriptsClient
from app.influx.models import Script, ScriptCreate, ScriptLanguage, ScriptUpdate
from app.influx.stream import InvokeResult

__all__ = ["InvokeResult", "Script", "ScriptCreate", "ScriptLanguage", "ScriptUpdate", "ScriptsClient"]
