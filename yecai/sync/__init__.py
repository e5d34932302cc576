"""The pipeline: intake (pull → records → documents), binder, corrections, planning (documents →
postings), sending (postings → Kingdee) with the lifecycle, read-back. Posting states move only
through `states.transition`. Each step runs one fixed sequence and commits as it goes."""
