#!/bin/sh
# nightly.sh — import tonight's CRM export into Amazon Connect tasks, and lose no night.
#
#   CTL_EXPORT=/data/crm/open-tickets.csv CTL_NIGHTS=/data/crm/nights nightly.sh [run options…]
#
# 1. Tonight's export is taken aside first, as <nights>/<night>.input.csv (mode 0600): a night can
#    only be finished (--resume) from the very input it started with, and the export is overwritten
#    by the next one.
# 2. Every night not yet finished is run, oldest first, tonight's last: a night interrupted earlier
#    (SIGTERM, a reboot, --deadline) is finished, with the same tokens, before a new one starts.
# 3. Each night keeps its own results, run state, timeline and summary (<night>.summary.json) beside
#    its input; <night>.done records the exit code that finished it.
#
# Exit codes: 0 every night run now created all its tasks; 1 a night finished with failed or invalid
# rows (see its results; `connect-task-loader rerun` sends the failed ones); 3 a night was
# interrupted (it is finished first next time); 75 another nightly.sh holds the lock (nothing sent:
# tonight's export is only taken aside, and the next nightly.sh runs it);
# 66 there was no export tonight (earlier nights were still finished); 2 before any night: CTL_NIGHT
# is not a plain name, flock is not installed, the export cannot be copied (a full disk) or cannot
# be removed once taken and CTL_EXPORT_KEEP is not set (nothing done, the export left where it
# was); any other code is the tool's own for the night that stopped (2 usage, 4 results locked,
# 70 internal): that night is tried again first next time, so fix the cause, or give up on it with
# `echo skipped > <nights>/<night>.done`.
#
# Environment (run settings such as CTL_JOB, AWS_REGION, CTL_DEADLINE are the tool's own and pass
# through):
#   CTL_EXPORT       the export, overwritten every night (.csv or .csv.gz)       (required)
#   CTL_NIGHTS       the folder that keeps every night's files                   (required)
#   CTL_NIGHT        tonight's name                                              (default: date +%F)
#   CTL_EXPORT_KEEP  1: copy the export instead of moving it (a read-only drop folder). Then an export
#                    that is not replaced is imported again by the next night, as new tasks.
#   CTL_BIN          the command                                          (default: connect-task-loader)
#
# Stop it with SIGTERM or Ctrl-C to its process group (systemctl stop, kill -TERM -- -<pgid>): the
# running night drains and is finished next time. A signal to this script alone lets the running
# night finish, then stops.
set -eu
umask 077 # the inputs, results and summaries hold customer data: owner-only

say() { echo "nightly: $*" >&2; }

export_file=${CTL_EXPORT:?set CTL_EXPORT to the export that is overwritten every night}
nights=${CTL_NIGHTS:?set CTL_NIGHTS to the folder that keeps every night}
night=${CTL_NIGHT:-$(date +%F)}
bin=${CTL_BIN:-connect-task-loader}
case $night in
*/* | .* | '') say "CTL_NIGHT must be a plain name, not '$night'"; exit 2 ;;
esac

mkdir -p -- "$nights"
chmod 700 -- "$nights"

# Without flock (not installed: macOS, a slim image) every night would look locked: said, and
# nothing done.
if ! command -v flock >/dev/null 2>&1; then
  say "flock is not installed (util-linux): it keeps two nightly.sh apart; install it. Nothing done"
  exit 2
fi

# Tonight's export is taken aside even while another nightly.sh still runs an earlier night: left
# where it is, it would be overwritten by the next night's, and tonight lost. Taking it is short and
# one at a time (its own lock, closed before any night runs, so no tool inherits it).
exec 8>>"$nights/.intake.lock"
flock 8

case $export_file in
*.gz) suffix=.csv.gz ;;
*) suffix=.csv ;;
esac
tonight=$nights/$night.input$suffix

# Tonight's export, taken aside before anything can fail. A partial copy is never mistaken for a
# whole one: it is written as .part and renamed.
# An export that cannot be removed (a folder this user may not change) would be taken again by the
# next night, as new tasks: nothing is done until CTL_EXPORT_KEEP says that is meant.
unremovable() {
  say "cannot remove $export_file once taken (a folder this user may not change?), so the next night" \
    "would import it again: make the folder writable, or set CTL_EXPORT_KEEP=1 to copy it. Nothing done"
  exit 2
}
missing=
took=
if [ -e "$tonight" ]; then
  # Already taken (a night fired twice). An export still there with the same bytes is the one a
  # crash left behind between the copy and its removal: remove it, or tomorrow would import it again.
  if [ -z "${CTL_EXPORT_KEEP:-}" ] && [ -e "$export_file" ] && cmp -s -- "$export_file" "$tonight"; then
    rm -f -- "$export_file" || unremovable
  fi
elif [ -e "$export_file" ]; then
  if ! cp -- "$export_file" "$tonight.part"; then
    rm -f -- "$tonight.part"
    say "cannot copy $export_file into $nights (full?): free some space, then run again. Nothing done"
    exit 2
  fi
  mv -- "$tonight.part" "$tonight"
  if [ -z "${CTL_EXPORT_KEEP:-}" ] && ! rm -f -- "$export_file"; then
    rm -f -- "$tonight" # not taken after all: the export is still where it was
    unremovable
  fi
  say "took $export_file as $tonight"
  took=1
else
  missing=1
fi
exec 8>&-

# One nightly at a time. The lock's file descriptor is inherited by the tool, so a night that
# outlives this script (a signal to the script alone) still holds it.
exec 9>>"$nights/.lock"
if ! flock -n 9; then
  if [ -n "$took" ]; then
    say "another nightly.sh is still running in $nights (lock $nights/.lock): nothing sent;" \
      "tonight's export waits as $tonight, for the next nightly.sh"
  else
    say "another nightly.sh is still running in $nights (lock $nights/.lock): nothing done"
  fi
  exit 75
fi

# A signal to this script alone (not to the tool) is acted on once the running night is over.
stopping=
trap 'stopping=1' TERM INT HUP

worst=0
for input in "$nights"/*.input.csv*; do
  case $input in *.input.csv | *.input.csv.gz) ;; *) continue ;; esac # not a .part
  [ -e "$input" ] || continue
  name=${input##*/}
  name=${name%.input.csv*}
  [ -e "$nights/$name.done" ] && continue
  say "night $name: running"
  set +e
  $bin run "$input" --results "$nights/$name.results.csv" --resume \
    --summary-json "$nights/$name.summary.json" "$@"
  code=$?
  set -e
  case $code in
  0 | 1)
    echo "$code" >"$nights/$name.done"
    say "night $name: finished (exit $code)"
    if [ "$code" -gt "$worst" ]; then worst=$code; fi
    ;;
  *)
    say "night $name: stopped (exit $code); it is finished first next time"
    exit "$code"
    ;;
  esac
  if [ -n "$stopping" ]; then
    say "stopped by a signal after night $name"
    exit 3
  fi
done

if [ -n "$missing" ]; then
  say "no export at $export_file tonight: nothing new to import"
  exit 66
fi
exit "$worst"
