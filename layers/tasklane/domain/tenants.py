"""What a tenant id may look like, wherever a credential names one."""

from __future__ import annotations

import re

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
