"""Kubernetes manifests for a class: ``labchain deploy k8s render --roster FILE --out DIR``.

Rendered by Python from the roster (no hand-edited YAML copies); see docs/k8s.md.

Terminology: a *student namespace* holds one student's testnet and single-user server;
the *testnet* is a StatefulSet of LabChain nodes behind a headless Service, so node ``i`` is
the pod ``nodes-i`` with the stable DNS name ``nodes-i.nodes.<namespace>.svc`` and learns
its index (and its peers) from its own hostname. The *hub values* are a values file for the
Zero to JupyterHub Helm chart (KubeSpawner with a namespace per user).

Simplifications (honest list): nothing here has run on a live cluster (no Kubernetes API
server can run on the machines this was built on); the objects are checked against the
Kubernetes JSON schemas of two versions with ``kubernetes-validate --strict``, which checks
fields and types, not admission (Pod Security admission, quota arithmetic) nor behaviour.
The node start-up script (index and peers from the hostname) has not been run in pods. The
student's single-user pod is KubeSpawner's (its profile comes from the hub values), not an
object rendered here; testnet hooks that create the StatefulSet at spawn time are left to the
hub (the objects are applied per student ahead of the class, e.g. ``kubectl apply -f``).
"""
