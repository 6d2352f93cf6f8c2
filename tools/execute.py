"""Executes one notebook headless on the tslab kernel, cell by cell, and reports the first failure.

tslab reports a failing cell only as stderr text (its execute_reply carries no ename/evalue, so
nbclient's own message is an empty "<Error>: "). We run each cell ourselves and, when one fails,
name the cell and quote its stderr: a type error's text, a runtime error's stack.

usage: python3 tools/execute.py IN.ipynb OUT.ipynb [--timeout SECONDS]
Prints one JSON line: {"ok": bool, "seconds": s, "cells": [...per-cell seconds...], "error": {...}}
"""
import json
import os
import sys
import time

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ImportError as e:  # setup.sh installs these; say what to do if someone runs this directly
    print(json.dumps({"ok": False, "error": {"message": f"{e}: run 'bash tools/setup.sh' (it installs Jupyter's nbclient)"}}))
    sys.exit(2)


def main() -> int:
    args = sys.argv[1:]
    timeout = 900
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = int(args[i + 1])
        del args[i:i + 2]
    src, dst = args
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="tslab", allow_errors=False,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    report = {"ok": True, "cells": [], "error": None}
    t0 = time.time()
    code_index = 0
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                code_index += 1
                t = time.time()
                try:
                    client.execute_cell(cell, index)
                except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                    stderr = "".join(o.get("text", "") for o in cell.get("outputs", [])
                                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
                    kind = type(e).__name__
                    message = stderr.strip() or (str(e).strip() if kind != "CellExecutionError" else "") \
                        or "the cell failed without an error message"
                    report["ok"] = False
                    report["error"] = {"cell": index + 1, "codeCell": code_index, "kind": kind,
                                       "source": cell.source[:300], "message": message[:4000]}
                    break
                finally:
                    report["cells"].append(round(time.time() - t, 3))
    except Exception as e:  # the kernel did not start, etc.
        report["ok"] = False
        report["error"] = {"kind": type(e).__name__, "message": str(e)[:4000]}
    report["seconds"] = round(time.time() - t0, 2)
    # Clean execution metadata: handouts don't need nbclient's timing fields.
    nbformat.write(nb, dst)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
