"""Results of a benchmark into its JSON file and its table into the doc (standard library only).

The table of a benchmark lives in a docs/*.md file between the markers
``<!-- NAME-table:start -->`` and ``<!-- NAME-table:end -->``; nothing in it is typed by hand.
"""
import json
import os


def publish(results, data, doc, name, table):
    """Save data (None: keep the last results), put table(data) between the doc's markers, print it.

    doc None: print only."""
    if data is not None:
        os.makedirs(os.path.dirname(results), exist_ok=True)
        with open(results, 'w') as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
    with open(results) as handle:
        data = json.load(handle)
    if doc is None:
        print(table(data))
        return 0
    start, end = '<!-- %s-table:start -->' % name, '<!-- %s-table:end -->' % name
    with open(doc) as handle:
        text = handle.read()
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    with open(doc, 'w') as handle:
        handle.write(head + start + '\n' + table(data) + '\n' + end + tail)
    print(table(data))
    return 0
