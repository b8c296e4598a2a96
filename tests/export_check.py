"""The Python half of tests/export_test.cpp: reads a `poet_dist export` file with
python/poet_model.py and prints, as one JSON object, what the test compares with poet_dist:
    export_check.py MODEL log_probs TEXT        {"log_probs": [...]}
    export_check.py MODEL greedy_verse L C      {"text": ...}
    export_check.py MODEL greedy PROMPT         {"text": ...}
"""
import json
import sys

import poet_model

poet = poet_model.load(sys.argv[1])
command, args = sys.argv[2], sys.argv[3:]
if command == "log_probs":
    print(json.dumps({"log_probs": poet.log_probs(args[0])}))
elif command == "greedy_verse":
    print(json.dumps({"text": poet.greedy_verse(int(args[0]), int(args[1]))}))
elif command == "greedy":
    print(json.dumps({"text": poet.greedy(args[0])}))
else:
    sys.exit(f"export_check.py: unknown command {command!r}")
