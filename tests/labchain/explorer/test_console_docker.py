"""The class console on the Docker backend: a student's real container testnet (the node image
built from this checkout) appears with its health, height, peers and memory, and its link opens
that student's explorer. Needs a Docker engine: skips without one, fails under CI's
LABCHAIN_REQUIRE_ALL / LABCHAIN_REQUIRE_DOCKER."""
from __future__ import annotations

import secrets

from explorerkit import fetch, wait_until
from needs import require

from labchain.explorer.console import Console, docker_provider
from labchain.explorer.server import Background


def test_console_lists_a_docker_student_testnet_and_links_its_explorer():
    require("docker")
    from labchain.deploy.images import build_images
    from labchain.testnet import docker as backend

    build_images(["node"], log=lambda *args: None)
    client = backend.connect()
    student = f"ex{secrets.token_hex(3)}"
    try:
        status = backend.up(student, nodes=2, client=client)
        backend.rpc_call(status.nodes[0].rpc, "generate", 3, timeout=30)
        wait_until(lambda: backend.status(student, client=client, with_memory=False).healthy == 2
                   and {n.height for n in backend.status(student, client=client, with_memory=False).nodes} == {3},
                   timeout=180, what="both containers healthy at height 3")
        with Background({}, Console(docker_provider, token="docker-token")) as bg:
            assert fetch(bg.url, "/class")[0] == 403
            code, body = fetch(bg.url, "/class?token=docker-token")
            assert code == 200 and f'data-student="{student}"' in body
            row = body[body.index(f'data-student="{student}"'):]
            row = row[:row.index("</tr>")]
            assert ">2/2<" in row and ">3<" in row and ">1/1<" in row and "MiB" in row
            assert f'href="/n/{student}/"' in row
            assert fetch(bg.url, f"/n/{student}/")[0] == 403
            code, page = fetch(bg.url, f"/n/{student}/?token=docker-token")
            assert code == 200 and '<b id="height">3</b>' in page and page.count('class="up"') == 2
    finally:
        backend.down(student, client=client, missing_ok=True)
        if not backend.students(client):      # the shared labs bridge goes with the last student
            for net in client.networks.list(names=[backend.LABS_NETWORK]):
                net.remove()
