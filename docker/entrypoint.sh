#!/bin/sh
# Starts one HOMEPOT Audit app in this image: `<image> api-gateway`, `<image> query-store`, ..., or an offline
# tool: `<image> reconcile-rollup`. The names and entry files are the ones in APPS and TOOLS
# (libs/common/src/config.ts); an unknown name stops here
# with a usage message instead of starting a default the operator did not ask for.
set -eu

app="${1:-}"
case "$app" in
  all-in-one) entry=dist/apps/all-in-one/src/main.js ;;
  api-gateway) entry=dist/apps/api-gateway/src/main.js ;;
  ingest-gateway) entry=dist/apps/ingest-gateway/src/main.js ;;
  query-store) entry=dist/apps/query-store/src/main.js ;;
  reporting) entry=dist/apps/reporting/src/main.js ;;
  alerting) entry=dist/apps/alerting/src/main.js ;;
  integrity) entry=dist/apps/integrity/src/main.js ;;
  siem-forwarder) entry=dist/apps/siem-forwarder/src/main.js ;;
  retention) entry=dist/apps/retention/src/main.js ;;
  verify-integrity) entry=dist/apps/integrity/src/verify-cli.js ;;
  # Offline tools (TOOLS in libs/common/src/config.ts), run with the same environment as the app they serve.
  reconcile-rollup) entry=dist/apps/query-store/src/reconcile-rollup.js ;;
  rebuild-store) entry=dist/apps/all-in-one/src/rebuild-cli.js ;;
  *)
    echo "homepot-audit: unknown app '${app}'" >&2
    echo "usage: <image> all-in-one|api-gateway|ingest-gateway|query-store|reporting|alerting|integrity|siem-forwarder|retention|reconcile-rollup|rebuild-store|verify-integrity [node arguments...]" >&2
    exit 64
    ;;
esac
shift

exec node "$entry" "$@"
