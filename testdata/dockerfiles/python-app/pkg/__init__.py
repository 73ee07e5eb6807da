from .report import summarize
