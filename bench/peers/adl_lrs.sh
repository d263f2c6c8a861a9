#!/usr/bin/env bash
# Start the ADL LRS (github.com/adlnet/ADL_LRS, Django) beside Tsunagu for bench/lrs.py.
#
#   bench/peers/adl_lrs.sh /path/to/ADL_LRS-checkout [PORT]
#
# Its code is never copied into this repository: bring a checkout (e.g. `git clone
# https://github.com/adlnet/ADL_LRS`). Everything it needs comes from PyPI into a venv of its own
# (CHECKOUT/.venv-bench); it stores into database `adl_lrs_bench` of the local PostgreSQL
# (TSUNAGU_TEST_POSTGRES_HOST, default 127.0.0.1, user postgres, trust auth), which this script
# drops and recreates. Redis (django-defender) must be at 127.0.0.1:6379. It creates the user
# bench/bench (HTTP Basic for /xapi) and serves with gunicorn, 2 workers (like tsunagu serve),
# DEBUG off, in the foreground. Then:
#
#   python bench/lrs.py --peer-url http://127.0.0.1:PORT/xapi --peer-auth bench:bench --peer-name ADL_LRS
set -euo pipefail
CHECKOUT=$(cd "${1:?usage: adl_lrs.sh CHECKOUT [PORT]}" && pwd)
PORT=${2:-8100}
PGHOST=${TSUNAGU_TEST_POSTGRES_HOST:-127.0.0.1}
PYTHON=${PYTHON:-python3}
cd "$CHECKOUT"
if [ ! -x .venv-bench/bin/gunicorn ]; then
  "$PYTHON" -m venv .venv-bench
  # Pins of its requirements.txt, except psycopg2-binary and importlib-metadata (no wheels of the
  # pinned versions for current Python).
  sed -e 's/^psycopg2-binary==.*/psycopg2-binary/' -e 's/^importlib-metadata==.*/importlib-metadata/' \
    requirements.txt > .venv-bench/requirements.txt
  .venv-bench/bin/pip install -q -r .venv-bench/requirements.txt gunicorn
fi
cat > adl_lrs/settings.ini <<INI
[database]
NAME: adl_lrs_bench
USER: postgres
PASSWORD:
HOST: $PGHOST
PORT: 5432
[email]
EMAIL_BACKEND: django.core.mail.backends.console.EmailBackend
EMAIL_HOST: localhost
EMAIL_PORT: 25
EMAIL_HOST_USER:
EMAIL_HOST_PASSWORD:
EMAIL_USE_TLS: False
EMAIL_USE_SSL: False
[site]
SITE_ID: 1
[recaptcha]
USE_GOOGLE_RECAPTCHA: False
RECAPTCHA_PUBLIC_KEY: x
RECAPTCHA_PRIVATE_KEY: x
[debug]
DEBUG: False
[auth]
ALLOW_EMPTY_HTTP_AUTH: False
OAUTH_ENABLED: False
[hooks]
USE_HOOKS: False
[preferences]
SERVER_STMT_LIMIT: 100
STMTS_PER_PAGE: 10
TIME_ZONE: UTC
LANGUAGE_CODE: en-US
[secrets]
SECRET_KEY: bench-only-not-secret
[ampq]
USERNAME: guest
PASSWORD: guest
HOST: 127.0.0.1
PORT: 5672
VHOST: /
[redis]
URL: redis://127.0.0.1:6379/0
INI
# Local overrides its settings.ini cannot express (Redis host of django-defender, no file logs).
cat > bench_settings.py <<'PY'
from adl_lrs.settings import *  # noqa: F401,F403

DEFENDER_REDIS_URL = "redis://127.0.0.1:6379/5"
LOGGING = {"version": 1, "disable_existing_loggers": False}
PY
mkdir -p logs/celery
psql -h "$PGHOST" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS adl_lrs_bench" \
  -c "CREATE DATABASE adl_lrs_bench"
export DJANGO_SETTINGS_MODULE=bench_settings
# Its own setup sequence (fabfile.py): the app models ship without migration files.
.venv-bench/bin/python manage.py makemigrations -v 0 adl_lrs lrs oauth_provider
.venv-bench/bin/python manage.py migrate -v 0
.venv-bench/bin/python manage.py createcachetable
.venv-bench/bin/python manage.py shell -c "
from django.contrib.auth.models import User
User.objects.create_user('bench', 'bench@example.jp', 'bench')"
exec .venv-bench/bin/gunicorn adl_lrs.wsgi:application --env DJANGO_SETTINGS_MODULE=bench_settings \
  --bind "127.0.0.1:$PORT" --workers 2 --log-level warning
