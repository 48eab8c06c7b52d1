#!/usr/bin/env bash
# Refresh the vendored GOV.UK Frontend and MOJ Frontend from the npm registry.
#
# Installs the pinned versions into a temporary directory, compiles one stylesheet from their
# Sass with the settings the Design System documents for services outside GOV.UK (no GDS
# Transport: the system font stack, so no @font-face at all), and copies only what the pages
# serve: that CSS, the compiled ES module JavaScript and the images the CSS points at (never the
# crown or the crest). Nothing is fetched at run time. Bump a version here, run it, look at the
# pages, commit the result.
set -euo pipefail

GOVUK_FRONTEND=6.6.0
MOJ_FRONTEND=11.1.0
SASS=1.108.2

here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/nudge/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts --save-exact \
  "govuk-frontend@$GOVUK_FRONTEND" "@ministryofjustice/frontend@$MOJ_FRONTEND" "sass@$SASS" >/dev/null

cat > frontend.scss <<'SCSS'
// MOJ Frontend configures GOV.UK Frontend through its own settings: set them before either loads.
@use "@ministryofjustice/frontend/moj/settings/all" with (
  $moj-font-family: (helvetica, arial, sans-serif),
  $moj-assets-path: "assets/"
);
@use "@ministryofjustice/frontend/moj/all" as moj;
@use "govuk-frontend/dist/govuk/index" as govuk;
SCSS
npx sass --no-source-map --style=compressed --quiet --load-path=. --load-path=node_modules \
  frontend.scss frontend.css

if grep -qi 'GDS Transport\|@font-face' frontend.css; then
  echo "refresh_frontend: the compiled CSS still names GDS Transport" >&2
  exit 1
fi

rm -rf "$dest"
mkdir -p "$dest/assets/images"
cp frontend.css "$dest/frontend.css"
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js "$dest/govuk-frontend.min.js"
cp node_modules/@ministryofjustice/frontend/moj/moj-frontend.min.js "$dest/moj-frontend.min.js"
# Only the images the compiled CSS refers to, except the crest, which is GOV.UK's alone.
grep -o 'url([^)]*)' frontend.css | sed -E 's/url\("?assets\/images\/([^")]*)"?\)/\1/' | sort -u |
  while read -r image; do
    case "$image" in *crest* | *crown*) continue ;; esac
    cp "node_modules/@ministryofjustice/frontend/moj/assets/images/$image" "$dest/assets/images/"
  done
{
  for package in govuk-frontend @ministryofjustice/frontend; do
    node -p "const p = require('./node_modules/$package/package.json'); p.name + ' ' + p.version + ' (' + p.license + ' licence)'"
  done
  echo "sass $SASS (build only)"
  echo "made by scripts/refresh_frontend.sh; do not edit these files by hand"
} > "$dest/VERSIONS"
echo "refresh_frontend: vendored into $dest"
