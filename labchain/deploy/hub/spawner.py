"""The spawner: DockerSpawner plus the student's private testnet, started and stopped with the server.

Before a student's lab server starts, :class:`~LabchainSpawner` brings up (or restarts) the
student's Docker testnet with :func:`labchain.testnet.docker.up` -- the same testnet
``labchain class up`` makes, with the same isolation -- and passes ``LABCHAIN_TESTNET`` into the
lab container, so ``Testnet.connect()`` in a notebook finds the student's own nodes. The lab
container sits on the shared ``labchain-labs`` bridge (no traffic between its containers; the
proxy reaches it there) and on the student's internal network at the address ``lab``. When the
server stops -- the student logs out and stops it, the admin stops it, or the idle culler does --
the student's node containers stop and keep their volumes; the next spawn restarts them with the
chain intact.

A failing testnet fails only that student's spawn: JupyterHub shows the student the reason
("Spawn failed: ...") and other students are not affected.
"""
from __future__ import annotations

import asyncio
import json

from labchain.deploy.hub.volumes import make_feedback, make_outbox, make_release
from labchain.testnet import docker as backend


def spawner_class():
    """The JupyterHub spawner class (imported lazily: dockerspawner is the ``[hub]`` extra)."""
    from dockerspawner import DockerSpawner
    from traitlets import Integer, Unicode

    class LabchainSpawner(DockerSpawner):
        nodes = Integer(3, config=True, help="nodes in each student's testnet")
        pids_limit = Integer(256, config=True, help="process limit of a lab container")
        testnet_params = Unicode("regtest", config=True, help="chain preset of the testnets")
        release_volume = Unicode("labchain-hub-release", config=True,
                                 help="the course's release volume (/srv/release, read-only)")

        def _docker_settings(self) -> backend.DockerSettings:
            return backend.DockerSettings(lab_image=self.image, params=self.testnet_params)

        @property
        def student(self) -> str:
            return backend.check_student(self.user.name)

        async def start(self):
            student, settings = self.student, self._docker_settings()
            self.log.info("starting the testnet of %s (%d nodes)", student, self.nodes)
            try:
                await asyncio.to_thread(backend.up, student, self.nodes, False, settings)
            except Exception as exc:  # noqa: BLE001 - the student sees this sentence
                raise RuntimeError(f"your private testnet did not start: {exc}") from exc
            client = backend.connect()
            # the home volume, labelled so `labchain class down` removes it with the testnet
            # (the same volume a `class up --with-lab` container would use)
            client.volumes.create(backend.names(student)["lab_volume"],
                                  labels={backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student})
            make_outbox(client, student)   # /srv/submit: submissions (labchain.deploy.hub.volumes)
            make_feedback(client, student)  # /srv/feedback: returned feedback, read-only
            make_release(client, self.release_volume)   # /srv/release: released labs, read-only
            network = backend.find_network(client, student)
            subnet = backend.network_subnet(network)
            self._testnet = (network, subnet)
            self.environment = dict(self.environment, LABCHAIN_TESTNET=json.dumps(
                backend.testnet_state(student, subnet, settings, self.nodes)))
            return await super().start()

        async def start_object(self):
            network, subnet = self._testnet
            await asyncio.to_thread(_attach, network, self.container_id,
                                    str(subnet[backend.LAB_HOST_OFFSET]))
            await super().start_object()

        async def stop(self, now=False):
            try:
                await super().stop(now)
            finally:
                await asyncio.to_thread(stop_testnet, self.student)

    return LabchainSpawner


def _attach(network, container_id: str, address: str) -> None:
    network.reload()
    if container_id not in {c.id for c in network.containers}:
        network.connect(container_id, ipv4_address=address, aliases=["lab"])


def stop_testnet(student: str, timeout: int = 10) -> int:
    """Stop the student's node containers, keeping them and their volumes; how many stopped."""
    client = backend.connect()
    stopped = 0
    for container in backend._containers(client, student):
        role = container.labels.get(backend.LABEL_ROLE)
        if role == "node" and container.status == "running":
            container.stop(timeout=timeout)
            stopped += 1
    return stopped
