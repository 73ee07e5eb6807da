import importlib.metadata

import boxgreet

print(boxgreet.greet("box"))
print("boxgreet", importlib.metadata.version("boxgreet"), "in", boxgreet.__file__)
