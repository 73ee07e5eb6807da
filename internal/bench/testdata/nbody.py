"""Five bodies of the outer solar system under Newtonian gravity.

Usage: python nbody.py STEPS

The sun and the four giant planets (Jupiter, Saturn, Uranus, Neptune) start
from fixed positions and velocities; the sun's velocity is set so that the
system's total momentum is zero. Each step moves every body by DT after
adding the pairwise gravitational pulls to the velocities (symplectic Euler).
The program prints the total energy before and after, with nine decimals.

Units: astronomical units, years, and solar masses scaled so that G = 1
(the sun's mass is 4 pi^2). The arithmetic is plain IEEE doubles with
+, -, *, / and sqrt only, which every correct platform rounds alike, so the
printed energies are the same on any CPython.
"""

import math
import sys

SUN_MASS = 4.0 * math.pi * math.pi
YEAR = 365.24  # days: the velocities below are in AU per day
DT = 0.01

# name, position (AU), velocity (AU/day), mass (solar masses)
PLANETS = [
    ("jupiter",
     (4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01),
     (1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05),
     9.54791938424326609e-04),
    ("saturn",
     (8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01),
     (-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05),
     2.85885980666130812e-04),
    ("uranus",
     (1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01),
     (2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05),
     4.36624404335156298e-05),
    ("neptune",
     (1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01),
     (2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05),
     5.15138902046611451e-05),
]


class Body:
    __slots__ = ("name", "pos", "vel", "mass")

    def __init__(self, name, pos, vel, mass):
        self.name = name
        self.pos = list(pos)  # mutated in place by the simulation
        self.vel = list(vel)
        self.mass = mass


def solar_system():
    bodies = [Body("sun", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), SUN_MASS)]
    for name, pos, vel, mass in PLANETS:
        bodies.append(Body(name, pos, [v * YEAR for v in vel], mass * SUN_MASS))
    # Give the sun the momentum that cancels the planets'.
    sun = bodies[0]
    for axis in range(3):
        momentum = sum(b.vel[axis] * b.mass for b in bodies[1:])
        sun.vel[axis] = -momentum / SUN_MASS
    return bodies


def energy(bodies):
    """Kinetic plus potential energy of the system."""
    total = 0.0
    for i, a in enumerate(bodies):
        vx, vy, vz = a.vel
        total += 0.5 * a.mass * (vx * vx + vy * vy + vz * vz)
        for b in bodies[i + 1:]:
            dx = a.pos[0] - b.pos[0]
            dy = a.pos[1] - b.pos[1]
            dz = a.pos[2] - b.pos[2]
            total -= a.mass * b.mass / math.sqrt(dx * dx + dy * dy + dz * dz)
    return total


def simulate(bodies, steps, dt):
    # Each unordered pair once, as (position, velocity, mass) of both sides;
    # the lists are shared with the bodies, so updates are seen everywhere.
    pairs = []
    for i, a in enumerate(bodies):
        for b in bodies[i + 1:]:
            pairs.append((a.pos, a.vel, a.mass, b.pos, b.vel, b.mass))
    states = [(b.pos, b.vel) for b in bodies]
    sqrt = math.sqrt
    for _ in range(steps):
        for pa, va, ma, pb, vb, mb in pairs:
            dx = pa[0] - pb[0]
            dy = pa[1] - pb[1]
            dz = pa[2] - pb[2]
            d2 = dx * dx + dy * dy + dz * dz
            scale = dt / (d2 * sqrt(d2))
            fa = mb * scale  # velocity change of a per unit of separation
            fb = ma * scale
            va[0] -= dx * fa
            va[1] -= dy * fa
            va[2] -= dz * fa
            vb[0] += dx * fb
            vb[1] += dy * fb
            vb[2] += dz * fb
        for p, v in states:
            p[0] += dt * v[0]
            p[1] += dt * v[1]
            p[2] += dt * v[2]


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: nbody.py STEPS")
    steps = int(argv[1])
    bodies = solar_system()
    print("%.9f" % energy(bodies))
    simulate(bodies, steps, DT)
    print("%.9f" % energy(bodies))


if __name__ == "__main__":
    main(sys.argv)
