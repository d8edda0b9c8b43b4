import sys

try:
    from report.cli import entry
except KeyboardInterrupt:  # Ctrl-C while the modules load: as anywhere else
    sys.stderr.write("report: interrupted; nothing written\n")
    raise SystemExit(130) from None
raise SystemExit(entry())
