"""Every model module, imported in one place so Alembic and create_app see the whole schema."""
from .accounts import (
    factor_models,  # noqa: F401
    security_log,  # noqa: F401
)
from .accounts import models as accounts  # noqa: F401
from .agenda import models as agenda  # noqa: F401
from .challenges import models as challenges  # noqa: F401
from .chat import models as chat  # noqa: F401
from .circles import models as circles  # noqa: F401
from .directory import models as directory  # noqa: F401
from .files import models as files  # noqa: F401
from .meetings import models as meetings  # noqa: F401
from .messages import models as messages  # noqa: F401
from .moderation import models as moderation  # noqa: F401
from .notifications import bounces  # noqa: F401
from .notifications import models as notifications  # noqa: F401
from .programmes import models as programmes  # noqa: F401
from .threads import models as threads  # noqa: F401
