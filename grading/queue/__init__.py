"""Distributed autograding: ``labchain-grade autograde --queue URL`` and ``labchain-grade worker``.

The same autograde run as ``grading.autograde`` (same pipeline, progress bar, summary,
logs, completion rows, one gradebook writer), with the sandbox step executed by workers on
any number of machines through Celery, with Redis as broker and result store.

Terminology:

- *coordinator*: the ``autograde --queue URL`` process. It reads submissions, sanitizes them
  (hidden tests restored from the gradebook), sends each notebook as a *task*, receives the
  executed notebook, post-processes it and is the ONLY process that writes the gradebook.
- *worker*: a ``labchain-grade worker --queue URL`` process: one Celery worker whose threads
  share one ``grading.sandbox`` executor with warm sandboxes (today's local grading pool). It
  never sees the gradebook or the course directory, only the task.
- *task key*: the task id, a hash of (assignment, student, notebook, submission
  fingerprint); the fingerprint hashes exactly what is executed (the sanitized notebook, the
  lab's files, limits, sandbox kind). A result stored under a key is reused, never redone.

Modules: ``app`` (the Celery application and its settings), ``worker`` (the task and the
worker's sandboxes), ``coordinator`` (the executor the autograde run uses).

Simplifications versus a production deployment (docs/grading-queue.md):

- Redis is not an AMQP broker: the message of a worker that died is redelivered after the
  broker's visibility timeout (default 600 s here), not at once as RabbitMQ does on a lost
  connection; the Redis server here keeps no disk persistence.
- The lab's data files travel inside every task (base64), not through a shared store.
- Anyone who can write to the Redis server can submit tasks: run it on a private network
  (or ``rediss://`` with a password); the tasks only ever run in the sandbox.
"""
