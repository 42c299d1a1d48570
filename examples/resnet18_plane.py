"""The exact planar slice of a CIFAR-shaped ResNet-18 (CIFAR stem, random weights, eval mode)
through three inputs close to one input, with the module's own ops (``lr.plane_through(resnet, a,
b, c)``): prints the regions, whether the complex is watertight (areas summing to the domain's
within ``AREA_RTOL``, Euler characteristic 1), the time and the peak memory.

    python examples/resnet18_plane.py --eps 0.005 --threads 2   # about 20 min on 2 CPU cores

``--eps`` is the distance of b and c from a (in input space): the domain grows with it and the
number of regions roughly with its square. Needs torchvision (``pip install linregions[vision]``).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import linregions as lr
from linregions.engine import models
from linregions.plane.partition import AREA_RTOL


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eps", type=float, default=0.005)
    ap.add_argument("--width", type=int, default=64, help="first-stage channels (64: ResNet-18)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = models.cifar_resnet18(width=a.width, num_classes=10)
    with torch.no_grad():  # running statistics as after some training (random, not the identity)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.rand(3, 32, 32, generator=g, dtype=torch.float64)
    d = torch.randn(2, 3, 32, 32, generator=g, dtype=torch.float64)
    b, c = x + a.eps * d[0] / d[0].norm(), x + a.eps * d[1] / d[1].norm()
    t0 = time.perf_counter()
    part = lr.plane_through(net, x, b, c, device=a.device, progress=a.progress)
    t_build = time.perf_counter() - t0
    n_lin = part.num_regions("linear")
    good = part.edge_good
    t_all = time.perf_counter() - t0
    dom = part.domain
    area = 0.5 * abs(float(np.sum(dom[:, 0] * np.roll(dom[:, 1], -1) - np.roll(dom[:, 0], -1) * dom[:, 1])))
    err = abs(float(part.face_areas.sum()) - area) / area
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux -> GiB
    out = dict(width=a.width, eps=a.eps, sites=part.net.depth, units=int(sum(part.net.widths)),
               activation_regions=part.num_faces, linear_regions=n_lin, vertices=part.vertices.shape[0],
               edges=part.edges.shape[0], good_edges=int(good[part.interior].sum()), watertight=part.watertight,
               euler=part.euler_characteristic(), area_rel_err=err, area_ok=err <= AREA_RTOL,
               close=part.close_decisions, seconds_complex=round(t_build, 1), seconds_total=round(t_all, 1),
               peak_rss_gib=round(peak, 2), threads=a.threads)
    for k, v in out.items():
        print(f"{k:20s} {v}")
    return out


if __name__ == "__main__":
    main()
