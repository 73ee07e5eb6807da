import importlib.metadata
import sys

import boxgreet

print(boxgreet.greet("box"))
print("boxgreet", importlib.metadata.version("boxgreet"), "in", boxgreet.__file__)
print("run by", sys.executable)
