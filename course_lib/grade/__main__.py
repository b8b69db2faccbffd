"""python -m course_lib.grade SUBMISSION.ipynb [MORE ...] --report grades.csv"""
import sys

from .cli import main

sys.exit(main())
