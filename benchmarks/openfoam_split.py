"""Independent reference for the pressure/viscous split: body-fitted OpenFOAM (docs/validation.md).

Builds a gmsh triangle mesh (extruded one cell) and an OpenFOAM v1912 simpleFoam case for the steady laminar
flow around a body in the solver's unconfined set-up (box [-32, 32]^2, U = 1 inlet, p = 0 outlet, slip top and
bottom, nu = 0.05: Re 20), runs it serially until the residuals of U and p reach 1e-8 (or Cd and Cl vary by
under 5e-6 of Cd over 500 iterations, which no run of docs/validation.md needed), and appends Cd and Cl, their
pressure and viscous parts (the forces function object) to results.txt. Needs Debian's `openfoam` and `gmsh`
packages (apt-get install openfoam gmsh; not installed by make: a validation tool, not a dependency of
dragopt).

usage: python benchmarks/openfoam_split.py BODY LEVEL [max_iterations]
  BODY  = circle | lens012 | naca0012 (the shapes of benchmarks/split.py) or any SHAPE of the CLI (naca:2410),
          each with an optional incidence @DEG (naca:2410@4: 4 degrees, nose up; parse_shape(SHAPE)
          .rotated(-DEG), the outline the solver gets); the outline goes to NAME.csv (naca2410_a4)
  LEVEL = 1 (surface cells 0.01 D, 0.0025 near tips and the NACA nose) | 2 (all refined sizes halved) |
          3 (halved again)
The values in docs/validation.md: circle levels 1 and 2, lens012 and naca0012 level 1, and lens012 and
naca0012 level 2 with MESHALG=1 (gmsh's MeshAdapt; Frontal-Delaunay, the default 6, left degenerate triangles
there).
Environment: OPENFOAM_OUT (folder, default benchmarks/out/openfoam), RE (Reynolds number, default 20: nu =
1 / RE; other than 20 it is in the case name), MESHALG, H0 / HTIP / HWAKE (sizes),
GEOFIX=0 (keep outline points closer than half the tip size to their neighbour near a tip; they are dropped by
default, moving the outline by under 1e-7), MESHONLY=1, TAG (case-name suffix), BL=1 (a quad boundary layer:
gmsh 4.8.4 crashed on it), RANDF (gmsh's Mesh.RandomFactor). A case folder is solved from scratch: remove it
to rerun.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = os.environ.get("OPENFOAM_OUT", str(HERE / "out" / "openfoam"))
os.makedirs(ROOT, exist_ok=True)
os.environ["WM_PROJECT_DIR"] = "/usr/share/openfoam"  # the Debian package's etc/bashrc does not set it


def write_outline(body: str, name: str) -> None:
    """The body's outline (D = 1, centroid at the origin, counter-clockwise) as ROOT/name.csv."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from split import lens_points

    from geometry import parse_shape
    from geometry.shape import Shape

    spec, at, deg = body.partition("@")
    if spec == "lens012":
        shape = Shape.from_points(lens_points(0.12), "lens:0.12")
    else:
        shape = parse_shape({"naca0012": "naca:0012"}.get(spec, spec))
    if at:
        shape = shape.rotated(-float(deg))
    np.savetxt(f"{ROOT}/{name}.csv", np.asarray(shape.points), delimiter=",", header="x,y", comments="")


body = sys.argv[1]
level = int(sys.argv[2])
maxIter = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
spec, at, deg = body.partition("@")
alpha = float(deg) if at else 0.0  # angle of attack, degrees, nose up
name = re.sub(r"[^A-Za-z0-9.-]", "", spec) + (f"_a{alpha:g}" if at else "")  # filesystem-safe
RE = float(os.environ.get("RE", "20"))
BL = os.environ.get("BL", "0") == "1"  # add gmsh quad boundary layer at the body
case = (
    f"{ROOT}/cases/{name}_L{level}"
    + ("" if RE == 20 else f"_re{RE:g}")
    + ("_bl" if BL else "")
    + ("_fix" if os.environ.get("GEOFIX", "1") == "1" else "")
    + os.environ.get("TAG", "")
)
os.makedirs(case, exist_ok=True)
SPAN = 0.1
NU = 1.0 / RE
L = 32.0

if not os.path.exists(f"{ROOT}/{name}.csv"):
    write_outline(body, name)
pts = np.loadtxt(f"{ROOT}/{name}.csv", delimiter=",", skiprows=1)
n = len(pts)
f = 0.5 ** (level - 1)
h0 = float(os.environ.get("H0", 0.01 * f))  # surface size
htip = float(os.environ.get("HTIP", 0.0025 * f))  # tip / nose size
hwake = float(os.environ.get("HWAKE", 0.08 * f))  # wake box size
hmax = 1.5  # far field size

# refinement points: the sharp tips of the lens, the NACA trailing edge and nose (the extreme points along the
# chord: x of the outline turned back by the incidence); none for other bodies
if spec == "lens012" or spec.lower().startswith("naca"):
    a = np.deg2rad(alpha)
    xc = pts[:, 0] * np.cos(a) - pts[:, 1] * np.sin(a)
    tips = [int(np.argmax(xc)), int(np.argmin(xc))]
else:
    tips = []
print("tips", [tuple(pts[i]) for i in tips])

# GEOFIX: near each sharp tip (within the tip refinement zone, dist < 0.05) walk
# outward from the tip and drop polygon points closer than 0.5*htip to the last
# kept point (the tip itself is always kept).  Avoids gmsh zero-area slivers.
if tips and os.environ.get("GEOFIX", "1") == "1":
    keep = np.ones(n, bool)
    for t in tips:
        for sgn in (+1, -1):
            last = pts[t]
            for m in range(1, n // 4):
                k = (t + sgn * m) % n
                if np.linalg.norm(pts[k] - pts[t]) > 0.05:
                    break
                if np.linalg.norm(pts[k] - last) < 0.5 * htip:
                    keep[k] = False
                else:
                    last = pts[k]
    dropped = np.where(~keep)[0]
    # max distance of dropped points from the new outline (segment between kept neighbours)
    kidx = np.where(keep)[0]
    maxdev = 0.0
    for k in dropped:
        a = kidx[kidx < k].max() if (kidx < k).any() else kidx.max()
        bb = kidx[kidx > k].min() if (kidx > k).any() else kidx.min()
        A, B, P = pts[a], pts[bb], pts[k]
        AB = B - A
        tt = np.clip(np.dot(P - A, AB) / np.dot(AB, AB), 0, 1)
        maxdev = max(maxdev, np.linalg.norm(A + tt * AB - P))
    print(f"GEOFIX dropped {len(dropped)} points {list(dropped)}; max outline deviation {maxdev:.3e}")
    newtips = [int(np.sum(keep[:t])) for t in tips]
    pts = pts[keep]
    n = len(pts)
    tips = newtips
    print("tips after fix", [tuple(pts[i]) for i in tips])

g = []
g.append('SetFactory("Built-in");')
g.append("General.ExpertMode = 1;")
g.append("Geometry.Tolerance = 1e-12;")
g.append("Mesh.MshFileVersion = 2.2;")
for i, (x, y) in enumerate(pts):
    g.append(f"Point({i + 1}) = {{{x:.16e}, {y:.16e}, 0, {h0}}};")
for i in range(n):
    g.append(f"Line({i + 1}) = {{{i + 1}, {(i + 1) % n + 1}}};")
g.append(f"Curve Loop(1) = {{1:{n}}};")
b = 100000
g.append(f"Point({b + 1}) = {{{-L}, {-L}, 0, {hmax}}};")
g.append(f"Point({b + 2}) = {{{L}, {-L}, 0, {hmax}}};")
g.append(f"Point({b + 3}) = {{{L}, {L}, 0, {hmax}}};")
g.append(f"Point({b + 4}) = {{{-L}, {L}, 0, {hmax}}};")
g.append(f"Line({b + 1}) = {{{b + 1}, {b + 2}}};")  # bottom
g.append(f"Line({b + 2}) = {{{b + 2}, {b + 3}}};")  # outlet
g.append(f"Line({b + 3}) = {{{b + 3}, {b + 4}}};")  # top
g.append(f"Line({b + 4}) = {{{b + 4}, {b + 1}}};")  # inlet
g.append(f"Curve Loop(2) = {{{b + 1}, {b + 2}, {b + 3}, {b + 4}}};")
g.append("Plane Surface(1) = {2, 1};")
# size fields
g.append("Field[1] = Distance;")
g.append(f"Field[1].CurvesList = {{1:{n}}};")
g.append("Field[1].NumPointsPerCurve = 20;")
g.append("Field[2] = Threshold;")
g.append("Field[2].InField = 1;")
g.append(f"Field[2].SizeMin = {h0};")
g.append(f"Field[2].SizeMax = {hmax};")
g.append("Field[2].DistMin = 0.03;")
g.append("Field[2].DistMax = 25;")
g.append("Field[5] = Box;")
g.append(f"Field[5].VIn = {hwake};")
g.append(f"Field[5].VOut = {hmax};")
g.append("Field[5].XMin = -2.5; Field[5].XMax = 8; Field[5].YMin = -1.5; Field[5].YMax = 1.5;")
g.append("Field[5].Thickness = 3;")
flist = [2, 5]
if tips:
    g.append("Field[3] = Distance;")
    g.append("Field[3].PointsList = {%s};" % ",".join(str(i + 1) for i in tips))  # noqa: UP031
    g.append("Field[4] = Threshold;")
    g.append("Field[4].InField = 3;")
    g.append(f"Field[4].SizeMin = {htip};")
    g.append(f"Field[4].SizeMax = {hmax};")
    g.append("Field[4].DistMin = 0.05;")
    g.append(f"Field[4].DistMax = {0.05 + (hmax - htip) / 0.1};")  # grow ~0.1 per unit
    flist.append(4)
g.append("Field[9] = Min;")
g.append("Field[9].FieldsList = {%s};" % ",".join(map(str, flist)))  # noqa: UP031
g.append("Background Field = 9;")
if BL:
    g.append("Field[20] = BoundaryLayer;")
    g.append(f"Field[20].CurvesList = {{1:{n}}};")
    g.append(f"Field[20].Size = {0.001 * f};")
    g.append("Field[20].Ratio = 1.2;")
    g.append(f"Field[20].Thickness = {0.02 * f};")
    g.append(f"Field[20].SizeFar = {h0};")
    g.append("Field[20].Quads = 1;")
    if tips:
        g.append("Field[20].FanPointsList = {%s};" % ",".join(str(i + 1) for i in tips[:1]))  # noqa: UP031
    g.append("BoundaryLayer Field = 20;")
g.append("Mesh.MeshSizeExtendFromBoundary = 0;")
g.append("Mesh.MeshSizeFromPoints = 0;")
g.append("Mesh.MeshSizeFromCurvature = 0;")
g.append(f"Mesh.Algorithm = {os.environ.get('MESHALG', '6')};")
if os.environ.get("RANDF"):
    g.append(f"Mesh.RandomFactor = {os.environ['RANDF']};")
g.append(f"ext[] = Extrude {{0, 0, {SPAN}}} {{ Surface{{1}}; Layers{{1}}; Recombine; }};")
# ext[0]=top, ext[1]=volume, ext[2..5]=outer lines (bottom,outlet,top,inlet), ext[6..]=body
g.append('Physical Surface("frontAndBack") = {1, ext[0]};')
g.append('Physical Surface("bottom") = {ext[2]};')
g.append('Physical Surface("outlet") = {ext[3]};')
g.append('Physical Surface("top") = {ext[4]};')
g.append('Physical Surface("inlet") = {ext[5]};')
g.append(f'Physical Surface("body") = {{ext[{{6:{n + 5}}}]}};')
g.append('Physical Volume("fluid") = {ext[1]};')
open(f"{case}/mesh.geo", "w").write("\n".join(g) + "\n")


def sh(cmd, log):
    t = time.time()
    with open(f"{case}/{log}", "w") as fo:
        r = subprocess.run(cmd, shell=True, cwd=case, stdout=fo, stderr=subprocess.STDOUT)
    if r.returncode:
        print(open(f"{case}/{log}").read()[-3000:])
        raise SystemExit(f"{cmd} failed")
    return time.time() - t


HDR = """FoamFile
{
    version 2.0; format ascii; class %s; object %s;
}
"""
os.makedirs(f"{case}/system", exist_ok=True)
os.makedirs(f"{case}/constant", exist_ok=True)
os.makedirs(f"{case}/0", exist_ok=True)
ctrl = (
    HDR % ("dictionary", "controlDict")
    + f"""
application simpleFoam;
startFrom latestTime; startTime 0; stopAt endTime; endTime {maxIter}; deltaT 1;
writeControl timeStep; writeInterval 100000; purgeWrite 0;
writeFormat binary; writePrecision 12; writeCompression off;
timeFormat general; timePrecision 8; runTimeModifiable true;
functions
{{
    forces1
    {{
        type forces; libs ("libforces.so");
        writeControl timeStep; writeInterval 1;
        patches (body);
        rho rhoInf; rhoInf 1; CofR (0 0 0);
        log false;
    }}
}}
"""
)
open(f"{case}/system/controlDict", "w").write(ctrl)
open(f"{case}/system/fvSchemes", "w").write(
    HDR % ("dictionary", "fvSchemes")
    + """
ddtSchemes { default steadyState; }
gradSchemes { default Gauss linear; }
divSchemes
{
    default none;
    div(phi,U) bounded Gauss linear;
    div((nuEff*dev2(T(grad(U))))) Gauss linear;
}
laplacianSchemes { default Gauss linear corrected; }
interpolationSchemes { default linear; }
snGradSchemes { default corrected; }
"""
)
open(f"{case}/system/fvSolution", "w").write(
    HDR % ("dictionary", "fvSolution")
    + """
solvers
{
    p { solver GAMG; smoother GaussSeidel; tolerance 1e-13; relTol 0.01; }
    U { solver smoothSolver; smoother symGaussSeidel; tolerance 1e-14; relTol 0.05; }
}
SIMPLE
{
    nNonOrthogonalCorrectors 1;
    consistent yes;
    residualControl { p 1e-8; U 1e-8; }
}
relaxationFactors
{
    equations { U 0.9; }
    fields { p 1; }
}
"""
)
open(f"{case}/constant/transportProperties", "w").write(
    HDR % ("dictionary", "transportProperties") + f"\ntransportModel Newtonian;\nnu {NU};\n"
)
open(f"{case}/constant/turbulenceProperties", "w").write(
    HDR % ("dictionary", "turbulenceProperties") + "\nsimulationType laminar;\n"
)
open(f"{case}/0/U", "w").write(
    HDR % ("volVectorField", "U")
    + """
dimensions [0 1 -1 0 0 0 0];
internalField uniform (1 0 0);
boundaryField
{
    inlet { type fixedValue; value uniform (1 0 0); }
    outlet { type zeroGradient; }
    top { type slip; }
    bottom { type slip; }
    body { type noSlip; }
    frontAndBack { type empty; }
}
"""
)
open(f"{case}/0/p", "w").write(
    HDR % ("volScalarField", "p")
    + """
dimensions [0 2 -2 0 0 0 0];
internalField uniform 0;
boundaryField
{
    inlet { type zeroGradient; }
    outlet { type fixedValue; value uniform 0; }
    top { type zeroGradient; }
    bottom { type zeroGradient; }
    body { type zeroGradient; }
    frontAndBack { type empty; }
}
"""
)

if not os.path.exists(f"{case}/constant/polyMesh/boundary"):
    tm = sh("gmsh -3 mesh.geo -o mesh.msh -format msh22", "log.gmsh")
    print(f"gmsh {tm:.1f}s")
    sh("gmshToFoam mesh.msh", "log.gmshToFoam")
    bf = f"{case}/constant/polyMesh/boundary"
    s = open(bf).read()
    types = {
        "inlet": "patch",
        "outlet": "patch",
        "top": "patch",
        "bottom": "patch",
        "body": "wall",
        "frontAndBack": "empty",
    }
    for name, t in types.items():
        s = re.sub(r"(\n\s*%s\s*\n\s*\{\s*\n\s*type\s+)\w+;" % name, r"\g<1>%s;" % t, s)  # noqa: UP031
    s = re.sub(r"physicalType\s+\w+;", "", s)
    open(bf, "w").write(s)
sh("checkMesh", "log.checkMesh")
cm = open(f"{case}/log.checkMesh").read()
ncells = int(re.search(r"cells:\s+(\d+)", cm).group(1))
print("cells", ncells, "| checkMesh:", "Mesh OK" if "Mesh OK" in cm else "FAILED CHECKS")
if "Mesh OK" not in cm:
    raise SystemExit("checkMesh failed; not running solver")
if os.environ.get("MESHONLY") == "1":
    raise SystemExit(0)

# run simpleFoam serially and monitor force convergence
t0 = time.time()
logf = open(f"{case}/log.simpleFoam", "w")
proc = subprocess.Popen(["simpleFoam"], cwd=case, stdout=logf, stderr=subprocess.STDOUT)
fdat = f"{case}/postProcessing/forces1/0/force.dat"


def read_forces():
    if not os.path.exists(fdat):
        return None
    rows = []
    for line in open(fdat):
        if line.startswith("#"):
            continue
        v = [float(x) for x in re.sub(r"[()]", " ", line).split()]
        if len(v) >= 10:
            rows.append(v)
    return np.array(rows) if rows else None


def last_res():
    s = open(f"{case}/log.simpleFoam").read()
    ux = re.findall(r"Solving for Ux, Initial residual = ([\d.eE+-]+)", s)
    uy = re.findall(r"Solving for Uy, Initial residual = ([\d.eE+-]+)", s)
    # first p solve of each iteration
    it = s.split("\nTime = ")
    p1 = []
    for blk in it[1:]:
        m = re.search(r"Solving for p, Initial residual = ([\d.eE+-]+)", blk)
        if m:
            p1.append(float(m.group(1)))
    return (float(ux[-1]) if ux else None, float(uy[-1]) if uy else None, p1[-1] if p1 else None, len(it) - 1)


stopped_by_monitor = False
while proc.poll() is None:
    time.sleep(10)
    F = read_forces()
    if F is not None and len(F) > 600:
        fx, fy = F[:, 1], F[:, 2]
        rel = max(np.ptp(fx[-500:]), np.ptp(fy[-500:])) / abs(fx[-1])
        r = last_res()
        print(
            f"  it {int(F[-1, 0])} Fx={fx[-1]:.8f} Fy={fy[-1]:.8f} relvar500={rel:.2e} res Ux,Uy,p={r[:3]}"
            f" t={time.time() - t0:.0f}s",
            flush=True,
        )
        if rel < 5e-6 and not stopped_by_monitor:
            c = open(f"{case}/system/controlDict").read()
            c = c.replace("stopAt endTime;", "stopAt writeNow;")
            open(f"{case}/system/controlDict", "w").write(c)
            stopped_by_monitor = True
proc.wait()
wall = time.time() - t0
F = read_forces()
r = last_res()
fx_tot, fx_p, fx_v = F[-1, 1], F[-1, 4], F[-1, 7]
fy_tot, fy_p, fy_v = F[-1, 2], F[-1, 5], F[-1, 8]
k = 2.0 / (1.0 * 1.0 * SPAN)
res = dict(
    body=body,
    Re=RE,
    level=level,
    bl=BL,
    geofix=os.environ.get("GEOFIX", "1") == "1",
    cells=ncells,
    iters=int(F[-1, 0]),
    Cd=fx_tot * k,
    Cdp=fx_p * k,
    Cdv=fx_v * k,
    Cl=fy_tot * k,
    Clp=fy_p * k,
    Clv=fy_v * k,
    resUx=r[0],
    resUy=r[1],
    resP=r[2],
    wall=wall,
    monitor_stop=stopped_by_monitor,
)
# variation of Cd over last 500 its
win = F[-500:, 1] * k
res["Cd_var500"] = win.max() - win.min()
res["Cl_var500"] = float(np.ptp(F[-500:, 2] * k))
print("RESULT", res)
with open(f"{ROOT}/results.txt", "a") as fo:
    fo.write(repr(res) + "\n")
