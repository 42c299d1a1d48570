"""The exact polyhedral complex of a network inside a box, in input dimension n <= 4.

Issue #7, part 2. For a network with ``n_in <= 4`` (or its restriction to an affine subspace of
dimension <= 4, ``origin + basis @ s``), ``complex_in_box`` builds every activation region inside
the box ``K = [low, high]`` as an explicit convex polytope, together with every face of every
dimension, and from them:

- the number of activation regions and of linear regions (docs/theory.md §2, the two kinds),
- the per-codimension volumes ``vol_{n-k}(B_{N,k} ∩ K)`` for k = 1..n: the quantities on the
  left of Theorem 6 (k = 1: the (n-1)-volume of the boundary; k = n: the number of vertices).

Algorithm: exact layer-by-layer splitting of convex polytopes (the n-dimensional version of
``linregions.line``). Start from the box. Within layer l every region has a constant activation
pattern of the layers before, so each pre-activation ``u_z`` of layer l is affine on it and its
values at the region's vertices determine it; for each switching neuron z and breakpoint xi of
the layer, every current region on which ``u_z - xi`` takes both signs is cut in two. A region
is kept as its vertex list (V-representation) and the vertex-constraint incidence (which box
facets and which cutting neuron hyperplanes each vertex lies on; the H-representation in
combinatorial form). A cut is exact: vertices are classified by sign (``SNAP_RTOL`` times the
breakpoint's own scale, ``tolerances.snap_scale``, decides "on the hyperplane": a far-away
breakpoint such as hard tanh's 1e6 does not blunt the one at 0), and the new vertices are the
intersections of the hyperplane with the edges that join a positive and a negative vertex; two
vertices span an edge when no third vertex lies on every constraint they share (true for
degenerate, non-simple polytopes too). New vertices get their pre-activations by exact linear
interpolation, like the points of ``line``. A vertex made by a cut is named by the edge and the
constraint that made it, so the regions around a point share one vertex (with one set of
pre-activation values that all of them decide on); no coordinates are compared. After the last
layer, the face lattice of every region follows from the incidence alone (the facets of a face
are the maximal vertex subsets cut out by one more constraint), faces shared by several regions
are identified by their vertex sets, and the d-volume of each face comes from the pyramid
formula ``vol_d(F) = (1/d) * sum_{facets G of F} dist(c_F, aff G) * vol_{d-1}(G)`` (c_F the mean
of F's vertices), down to edge lengths.

Implementation: the cuts (``enumerate.cuts``), the face lattice and the volumes
(``enumerate.lattice``) are compiled loops (numba, ``cache=True``: compiled once per
installation) over flat arrays: vertex ids per region and, per region vertex, its constraints as
a bitset of global constraint ids; shared vertices are found by (edge, constraint) keys and
shared faces by their sorted vertex ids (hashed, then compared in full). The forward passes at
region and face centroids are numpy products; their state codes, and the tight and good counts
of the faces (``line._open`` and ``line._reachability`` in one loop per point), are compiled
(``enumerate.states``). The kernels keep their buffers across cells and size them before the
inner loops. Cost: 60,000-100,000 regions per CPU second in 3D, about half that in 4D
(``benchmarks/enumerate.py``).

Degenerate arrangements (zero biases, several neurons through one point, duplicated neurons)
are exact. Nearly degenerate ones, with features below the snap tolerance (e.g. biases ~1e-9 of
the weights' scale around the origin), cannot be resolved in float64 with a fixed tolerance:
``complex_in_box`` then warns (``RuntimeWarning``, naming the number of decisions that erased
more than rounding noise, see ``SNAP_NOISE_FRACTION``) or, when the incidences became
contradictory, raises ``RuntimeError``. Every result carries ``close_decisions``, the number of
tolerance decisions (snaps, slope jumps) that were close to their threshold.

Definitions used for the counts (each face is assessed at the mean of its vertices, a point of
its relative interior, where every neuron is on a fixed piece or exactly at a breakpoint; a
neuron at a breakpoint is *tight* on the face):

- activation kind: ``B_{N,k}`` is the union of the (n-k)-dimensional faces of the activation
  complex that do not lie in the boundary of the box. With probability one (continuous bias
  laws) exactly k neurons are tight on such a face, so this is Theorem 6's set for the pattern
  boundary. In degenerate arrangements (zero biases: every first-layer hyperplane through the
  origin) a face is counted by its dimension (the origin is a vertex however many neurons meet
  there); ``face_tight`` gives the number of tight neurons if the literal "exactly k"
  definition is wanted.
- linear kind: two adjacent regions belong to one linear region when the output's slope does
  not jump across their common facet (the shared rule ``tolerances.slope_jump``: a relative
  threshold ``SLOPE_RTOL`` with the rounding floor ``tolerances.slope_noise`` of the products
  that make the two slopes, so that rounding noise against an exactly flat side is no jump; the
  rule of the ``linear`` flag of ``line``); linear regions are the connected pieces so glued. An interior facet is in
  ``B_{N,1}`` when the slope jumps across it; a face of dimension n - k, k >= 2, is in
  ``B_{N,k}`` when at least k of its tight neurons are *good* there (a path of open neurons with
  non-zero weights to an output, the structural definition of ``line._reachability``; exactly
  k with probability one). With probability one the slope jumps across a facet exactly when its
  tight neuron is good (Prop. 9); ``face_good`` allows the comparison.

Volumes are measured in the coordinates s of the box (those of the restricted network when
``origin``/``basis`` are given; with orthonormal basis columns they are volumes in input space).

>>> from linregions import random_mlp
>>> net = random_mlp(3, [8, 8], seed=0)
>>> cx = complex_in_box(net, -1.0, 1.0)
>>> bool(abs(cx.region_volume.sum() - 8.0) < 1e-9)
True
>>> cx.num_regions("linear") <= cx.num_regions("activation")
True
"""
import os as _os

from .._numba_cache import refresh as _refresh

_refresh(_os.path.dirname(__file__))  # before any kernel is loaded (they share helpers across modules)

from .complex import MAX_DIM, SNAP_NOISE_FRACTION, PolyhedralComplex, complex_in_box  # noqa: E402

__all__ = ["PolyhedralComplex", "complex_in_box", "MAX_DIM", "SNAP_NOISE_FRACTION"]
