"""5 nm FinFET yield paper: a raster flow diagram, a raster Pareto chart, vector line and bar charts, tables."""

from __future__ import annotations

from PIL import Image, ImageDraw

from .charts import BarChart, LineChart, Picture, encode, font
from .layout import Cols, Doc, Figure, Full, Heading, Lines, Table

DEFECTS = ["Particles", "Bridging", "Via opens", "Collapse", "Residue", "Other"]
DEFECT_SHARE = [34, 22, 17, 11, 9, 7]
YIELD_WEEKS = ["2", "6", "10", "14", "18", "22", "26"]
YIELD_RAMP = [41.3, 48.9, 57.2, 63.8, 70.5, 75.1, 78.6]
ZONES = ["Center", "Middle", "Edge"]
ZONE_YIELD = [84.2, 79.7, 66.3]


def process_flow(w: int = 1008, h: int = 300) -> bytes:
    """A block diagram of an inline inspection flow (not a chart)."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    steps = ["Lithography", "Etch", "Deposition", "CMP", "E-test", "Yield Analysis"]
    bw, bh = 128, 64
    gap = (w - 40 - bw * len(steps)) / (len(steps) - 1)
    y0, ym = 60, 60 + bh / 2
    centers = []
    for i, s in enumerate(steps):
        x0 = 20 + i * (bw + gap)
        box = (x0, y0, x0 + bw, y0 + bh)
        d.rounded_rectangle(box, radius=10, fill=(219, 233, 247), outline=(31, 102, 171), width=3)
        label = s if len(s) < 12 else "Yield\nAnalysis"
        d.text((x0 + bw / 2, ym), label, fill=(10, 30, 60), font=font(17, bold=True), anchor="mm", align="center")
        centers.append((x0, x0 + bw))
        if i:
            ax0, ax1 = centers[i - 1][1] + 4, x0 - 4
            d.line([(ax0, ym), (ax1, ym)], fill=(40, 40, 40), width=3)
            d.polygon([(ax1, ym), (ax1 - 10, ym - 6), (ax1 - 10, ym + 6)], fill=(40, 40, 40))
    # inspection station below Etch and CMP, with dashed feedback to Lithography
    ix0, ix1 = centers[1][0], centers[3][1]
    iy0 = y0 + bh + 70
    d.rounded_rectangle((ix0, iy0, ix1, iy0 + 56), radius=10, fill=(253, 236, 217), outline=(229, 125, 33), width=3)
    station = "Optical Inspection (every 5th wafer)"
    d.text(((ix0 + ix1) / 2, iy0 + 28), station, fill=(80, 40, 0), font=font(17), anchor="mm")
    for cx in ((centers[1][0] + centers[1][1]) / 2, (centers[3][0] + centers[3][1]) / 2):
        for yy in range(int(y0 + bh + 4), int(iy0 - 4), 10):
            d.line([(cx, yy), (cx, yy + 5)], fill=(229, 125, 33), width=3)
    feedback = "defect maps fed back to Lithography within 24 h"
    d.text((w / 2, h - 18), feedback, fill=(90, 90, 90), font=font(15), anchor="mm")
    return encode(img)


PAGES = [
    [  # 1
        Full([Heading("Abstract"),
              "We report the yield ramp of a 5 nm FinFET logic process using a 128 Mb SRAM test vehicle. Combining "
              "inline optical inspection on every fifth wafer with electrical test and defect Pareto analysis reduced "
              "the defect density D0 from 0.31 to 0.09 defects per cm² in 26 weeks, and raised die yield from 41.3 "
              "percent to 78.6 percent."]),
        Cols([Heading("1  Introduction"),
              "Yield learning speed determines the cost of a new process node. At 5 nm, each lot takes about 80 days "
              "to complete, so a learning cycle that waits for final test is too slow.",
              "Earlier work at Fab 3 relied on weekly engineering reviews of end-of-line yield. Here we shorten the "
              "loop by feeding inline defect maps back to lithography within 24 hours."],
             ["The contributions of this paper are a sampling plan that balances inspection cost and detection rate, a "
              "layer-by-layer defect density budget and a wafer-zone analysis of residual yield loss.",
              "Section 2 describes the test vehicle and methods, Section 3 the defect Pareto, Section 4 the yield "
              "ramp, and Section 5 discusses the results."], gap=4),
    ], [  # 2
        Full([Heading("2  Test Structures and Methods"),
              "The test vehicle is a full-reticle chip with SRAM arrays, ring oscillators and via chains. Figure 1 "
              "shows the inspection flow used for every lot in the study."]),
        Figure(Picture(process_flow),
               "Figure 1: Inline inspection and yield analysis flow used for the test vehicle.",
               "below", 504, 150, gap=4),
        Table("""
            Parameter           | Value
            Technology node     | 5 nm FinFET
            Die size (mm²)      | 88
            SRAM capacity (Mb)  | 128
            Metal layers        | 15
            Wafers sampled      | 1,240
            Inspection sampling | 1 in 5 wafers
            """, [150, 100], 130, "Table 1: Test vehicle characteristics.", "above", gap=2),
        Cols(["Electrical test used a 512-site probe card. Failing bits were mapped to physical locations and overlaid "
              "on inline defect maps with a 0.5 micrometre capture radius."],
             ["A defect was classified as a killer when it overlapped a failing bit in at least two consecutive "
              "inspection layers. Classification used an image classifier retrained every two weeks."]),
    ], [  # 3
        Full([Heading("3  Defect Pareto Analysis"),
              "Particles were the largest source of yield loss throughout the study, followed by metal bridging. "
              "Pattern collapse was confined to the fin and gate layers."]),
        Figure(BarChart(DEFECTS, DEFECT_SHARE, "Share of yield loss (%)", "Killer defect type", ymax=40, fmt="{:.0f}%",
                        color=4, raster=True),
               "Fig. 2. Pareto of killer defect types by share of total yield loss.", "below", 440, 210, gap=4),
        Table("""
            Layer | Week 1 | Week 13 | Week 26
            Fin   | 0.062  | 0.031   | 0.018
            Gate  | 0.071  | 0.038   | 0.021
            M0    | 0.054  | 0.027   | 0.016
            Via0  | 0.068  | 0.029   | 0.019
            M1    | 0.055  | 0.025   | 0.016
            Total | 0.310  | 0.150   | 0.090
            """, [110, 70, 70, 70], 92, "Table 2 – Defect density by process layer (defects/cm²).", "below"),
        Cols(["The gate layer had the highest defect density at the start of the ramp. A change of the gate etch "
              "chamber seasoning recipe in week 5 removed most of the residue defects."],
             ["Particle counts fell after the replacement of a robot end effector in the M1 cluster tool in week 9."]),
    ], [  # 4
        Full([Heading("4  Yield Ramp"),
              "Die yield rose steadily over the study period as the defect density budget was met layer by layer."]),
        Figure(LineChart(YIELD_WEEKS, [("Die yield", YIELD_RAMP)], "Die yield (%)", "Week of ramp", 30, 90,
                         ticks=[30, 40, 50, 60, 70, 80, 90]),
               "Figure 3: Die yield of the SRAM test vehicle over the 26-week ramp.", "above", 444, 200, gap=4),
        Cols(["The largest weekly gain, 2.1 points, followed the end effector replacement. After week 22, improvements "
              "slowed as edge-related losses dominated."],
             ["Yield at week 26 still varied strongly across the wafer, as the zone breakdown in Fig. 4 shows."]),
        Figure(BarChart(ZONES, ZONE_YIELD, "Die yield (%)", "Wafer zone", ymax=100, ticks=[0, 25, 50, 75, 100],
                        color=2),
               "Fig. 4. Die yield by radial wafer zone at week 26 (%).", "below", 284, 170, gap=4),
    ], [  # 5
        Cols([Heading("5  Discussion"),
              "Sampling one wafer in five detected 93 percent of excursions within one lot, at 38 percent of the "
              "inspection cost of full sampling. Going to one in ten would have missed three of the excursions seen.",
              "The remaining edge loss is attributed to film thickness roll-off in the final 4 mm of the wafer. An "
              "edge-exclusion change for the CMP step is being qualified."],
             [Heading("6  Conclusion"),
              "Fast inline feedback halved the time needed to reach a D0 of 0.1 defects per cm² compared with the "
              "previous node. The method will be applied to the 3 nm pilot line in 2025.",
              Heading("References"),
              *(Lines(ref, 8.5, after=3) for ref in [
                  "[1] H. Okonkwo, 'Yield models for advanced nodes', IEEE TSM, 2021.",
                  "[2] L. Ferreyra et al., 'Sampling plans for inline inspection', ASMC, 2022.",
                  "[3] P. Lindgren, 'Killer defect classification', J. Micro/Nanopattern., 2023."])]),
    ],
]

QUESTIONS = """
pages | evidence | question | answer
2     | Figure   | In the inspection flow diagram, which process step comes right after Deposition? | CMP
2     | Table    | How many metal layers does the 5 nm test vehicle have? | 15
3     | Chart    | What share of yield loss was caused by via opens? | 17%
3     | Chart    | What percentage of total yield loss came from bridging defects? | 22%
3     | Table    | What was the defect density of the gate layer in week 13? | 0.038 defects/cm²
3     | Table    | What defect density did the Via0 layer reach by week 26? | 0.019 defects/cm²
4     | Chart    | What was the SRAM test vehicle's die yield at week 14 of the ramp? | 63.8%
4     | Chart    | What die yield did the edge zone of the wafer reach at week 26? | 66.3%
3     | Layout   | Which section follows 'Test Structures and Methods' in the 5 nm FinFET yield paper?
                 | Defect Pareto Analysis
5     | Text     | What share of excursions did inspecting one wafer in five detect? | 93 percent
"""

DOC = Doc(
    name="finfet_yield_paper.pdf", title="Accelerating Yield Learning on a 5 nm FinFET Logic Line",
    header="Proceedings of the 2024 Symposium on Manufacturing Yield - Paper MY-17", author="MY-17 Arakawa et al.",
    subtitle="Kenji Arakawa, Lucía Ferreyra and Tomasz Wielgosz, Norrland Semiconductor, Fab "
             "3", logo=("N", (140, 107, 179)),
    pages=PAGES, questions=QUESTIONS, checks={"defect shares must total 100": sum(DEFECT_SHARE) == 100},
)
