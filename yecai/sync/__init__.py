"""The pipeline, and only the pipeline: stage → validate → bind → correct → plan → send → check.

intake (pull and validate), webhooks (the storing side), binder (base data), corrections, planning
(documents → postings) and sending (postings → Kingdee, exactly once) with the lifecycle
(Submit/Audit), readback (each posting read back by key) and `pipeline.run_sync_job`, which runs them
in that fixed order; `launch` opens a workspace's connections for one job. Posting states move only
through `states.transition`. Each step commits as it goes. What people call over the results
(dashboard, trace, postings, …) lives in `yecai.services`.
"""
