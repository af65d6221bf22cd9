"""Regional Solar Outlook 2024: vector bar and line charts, a raster line chart, an aerial photo, two tables."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .charts import MONTHS, BarChart, LineChart, Picture, encode, font
from .layout import Cols, Doc, Figure, Full, Heading, Table

REGIONS = ["Southwest", "Pacific", "Plains", "Southeast", "Northeast"]
CAPACITY = [14.2, 11.8, 8.9, 7.6, 6.1]
MONTHLY = [2.9, 3.4, 4.6, 5.5, 6.3, 6.9, 7.1, 6.8, 5.7, 4.5, 3.3, 2.7]
YEARS = ["2018", "2019", "2020", "2021", "2022", "2023"]
COSTS = [("Utility-scale", [1.42, 1.31, 1.18, 1.09, 1.12, 1.03]), ("Residential", [3.05, 2.91, 2.78, 2.69, 2.74, 2.62])]


def aerial_photo(w: int = 960, h: int = 440) -> bytes:
    """A photo-like aerial view of a solar array (seeded noise), with a painted block sign."""
    rng = np.random.default_rng(2024)
    yy = np.linspace(0, 1, h)[:, None]
    ground = np.stack([150 + 40 * yy, 130 + 30 * yy, 90 + 20 * yy], axis=-1) * np.ones((h, w, 1))
    ground += rng.normal(0, 9, size=(h, w, 1))
    img = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for row in range(7):
        y0 = 28 + row * 58
        for k in range(9):
            x0 = 22 + k * 104
            panel = [(x0, y0 + 30), (x0 + 18, y0), (x0 + 100, y0), (x0 + 82, y0 + 30)]
            d.polygon(panel, fill=(28, 48, 92), outline=(170, 180, 200))
            for g in range(1, 4):
                gx = x0 + g * 20
                d.line([(gx, y0 + 30), (gx + 18, y0)], fill=(60, 80, 130), width=1)
    d.rectangle((w - 300, h - 118, w - 40, h - 38), fill=(235, 235, 228), outline=(40, 40, 40), width=3)
    d.text((w - 170, h - 78), "BLOCK C-14", fill=(20, 20, 20), font=font(34, bold=True), anchor="mm")
    return encode(img, "JPEG")


PAGES = [
    [  # 1
        Cols([Heading("Executive Summary"),
              "Solar capacity across the five regions tracked by the Helios Energy Institute reached 48.6 GW at the "
              "end of 2023, up 17 percent from 41.5 GW a year earlier. Growth was concentrated in the Southwest, where "
              "large single-axis tracker plants continued to dominate new construction.",
              "Total solar generation in 2023 was 64.7 TWh, roughly 11.3 percent of all electricity consumed in the "
              "study area. The fleet-wide average capacity factor was 21.4 percent, slightly below the 21.9 percent "
              "recorded in 2022 because of an unusually cloudy spring in the Pacific region.",
              "Interconnection queues remain the main constraint. At the end of the year 212 GW of solar and hybrid "
              "projects were waiting for grid studies, with a median wait of 41 months from request to commercial "
              "operation."],
             [Heading("Key Findings"),
              "The largest plant completed during the period was Sunfield Mesa, a 1,150 MW project in the Southwest "
              "region that also hosts a 2,300 MWh battery. It became the largest single solar site in the institute's "
              "records when it entered service in October 2023.",
              "Utility-scale system costs fell again in 2023 after a one-year increase driven by module and freight "
              "prices in 2022. Residential costs declined more slowly, reflecting higher customer acquisition and "
              "permitting expenses.",
              "Community solar programmes added 1.9 GW, led by the Northeast, where new virtual net metering rules "
              "took effect in March 2023. The institute expects community projects to keep growing faster than rooftop "
              "installations through 2026.",
              "This outlook is the ninth edition of the series. Data were collected from 37 utilities, 5 grid "
              "operators and the state energy offices of the study area between January and April 2024."]),
    ], [  # 2
        Full([Heading("1  Installed Capacity by Region"),
              "Installed capacity grew in every region during 2023. The Southwest alone added 2.7 GW, while the Plains "
              "region overtook the Southeast for the first time thanks to several wind-solar hybrid plants."]),
        Figure(BarChart(REGIONS, CAPACITY, "Capacity (GW)", "Grid region", ymax=16, ticks=[0, 4, 8, 12, 16]),
               "Figure 1: Installed solar capacity by region at year-end 2023 (GW).", "below", 464, 230, gap=4),
        Cols(["Regional shares shifted only slightly. The Southwest held 29 percent of the total, the Pacific 24 "
              "percent and the Plains 18 percent. The Northeast remains the smallest region, but its share of "
              "distributed systems is the highest of all five.",
              "Utility-scale plants accounted for 71 percent of capacity additions, distributed rooftop systems for 23 "
              "percent and community solar for the remaining 6 percent."],
             ["Retirements were negligible: only 38 MW of early thin-film plants were decommissioned, most of them in "
              "the Pacific region. Repowering of older sites with bifacial modules is expected to add about 0.4 GW "
              "without new land use.",
              "Tracker adoption rose to 84 percent of new utility-scale capacity, compared with 77 percent in 2022."]),
    ], [  # 3
        Cols([Heading("2  Monthly Generation"),
              "Generation followed the usual seasonal pattern, with output in midsummer more than twice the winter "
              "level. Curtailment during spring afternoons reached 3.8 percent of potential output in the Pacific "
              "region, the highest figure recorded so far."],
             ["Storage paired with solar shifted an estimated 2.1 TWh from midday into the evening peak. Battery "
              "dispatch was most valuable in August, when evening prices were highest."]),
        Figure(LineChart(MONTHS, [("Generation", MONTHLY)], "Generation (TWh)", "Month of 2023", 0, 8.4, raster=True),
               "Fig. 2. Monthly solar generation, all five regions combined, 2023 (TWh).", "above", 504, 220, gap=4),
        Cols(["Output in the darkest month was limited by both shorter days and snow cover on northern plants. The "
              "Plains region lost an estimated 140 GWh to snow in February alone.",
              "Weather-normalised generation, which removes the effect of the cloudy spring, would have been about 1.2 "
              "TWh higher for the year."],
             ["Forecast errors for day-ahead solar output fell to 4.6 percent mean absolute error, helped by new "
              "satellite nowcasting services adopted by three of the five grid operators."]),
    ], [  # 4
        Full([Heading("3  Largest Projects"),
              "Large projects continued to grow in size. Eight plants of more than 400 MW were commissioned between "
              "2021 and 2023, and four of them include battery storage on the same site."]),
        Table("""
            Project        | Region    | Capacity (MW) | Storage (MWh) | Online
            Sunfield Mesa  | Southwest | 1,150         | 2,300         | 2023
            Copper Basin   | Southwest | 820           | 1,000         | 2022
            Harlan Flats   | Plains    | 690           | 0             | 2023
            Redwood Gate   | Pacific   | 615           | 1,240         | 2021
            Palmetto Ridge | Southeast | 540           | 300           | 2022
            Cedar Bluff    | Plains    | 505           | 0             | 2021
            Owens Dry Lake | Pacific   | 470           | 940           | 2023
            Kettle Pond    | Northeast | 412           | 0             | 2022
            """, [130, 90, 80, 80, 64], 40, "Table 1 – Largest solar projects commissioned 2021–2023.", "above", gap=4),
        Cols(["Project sizes reflect land availability and transmission access. The three Southwest and Pacific "
              "projects with storage were built on retired farmland close to existing 500 kV corridors.",
              "Developers reported average construction times of 19 months for plants above 400 MW, down from 24 "
              "months in the previous outlook."],
             ["Kettle Pond is the largest plant ever built in the Northeast and the first in the region to use "
              "bifacial modules on single-axis trackers. It serves two municipal utilities under a 25-year contract."]),
    ], [  # 5
        Full([Heading("4  System Costs"),
              "Installed costs are reported in 2023 dollars per watt of direct-current capacity. Utility-scale costs "
              "resumed their decline in 2023, while residential costs eased only slightly."]),
        Figure(LineChart(YEARS, COSTS, "Installed cost ($/W)", "Year", 0, 3.5, ticks=[0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
                         fmt="{:.2f}"),
               "Figure 3: Installed system cost for utility-scale and residential solar, 2018–2023 ($/W).",
               "below", 464, 210, gap=4),
        Figure(Picture(aerial_photo),
               "Figure 4: Aerial photograph of the Sunfield Mesa array in the Southwest region.", "below", 360, 165),
        Cols(["Module prices fell to 0.21 $/W by the end of 2023, the lowest level yet recorded."],
             ["Soft costs now make up 64 percent of a residential system."]),
    ], [  # 6
        Cols([Heading("5  Outlook 2024–2026"),
              "The institute expects 31.5 GW of new capacity across the study area over the next three years. The "
              "forecast assumes that current tax credits remain in place and that two new transmission lines in the "
              "Southwest are energised in 2025."],
             ["Downside risks include trade measures on modules and slower interconnection reform. Under the low case, "
              "additions would fall to 22.0 GW over the same period."]),
        Table("""
            Region    | 2024 | 2025 | 2026 | Total
            Southwest | 3.6  | 4.1  | 4.4  | 12.1
            Pacific   | 2.2  | 2.5  | 2.6  | 7.3
            Plains    | 1.4  | 1.8  | 2.2  | 5.4
            Southeast | 1.3  | 1.5  | 1.7  | 4.5
            Northeast | 0.6  | 0.7  | 0.9  | 2.2
            """, [120, 70, 70, 70, 70], 80,
            "Table 2: Forecast capacity additions by region, base case (GW).", "below", gap=6),
        Cols([Heading("6  Conclusions"),
              "Solar has become the largest source of new generating capacity in all five regions. Keeping that pace "
              "will depend on transmission and faster grid studies more than on equipment costs."],
             ["The next edition of the outlook will be published in June 2025 and will add a chapter on "
              "agrivoltaics."], gap=4),
    ],
]

QUESTIONS = """
pages | evidence | question | answer
2     | Chart    | How many GW of solar capacity were installed in the Plains region at the end of 2023? | 8.9
2     | Chart    | Which grid region had the second-largest installed solar capacity at year-end 2023? | Pacific
3     | Chart    | How many TWh of solar electricity were generated across the five regions in July 2023? | 7.1
3     | Chart    | What was the combined solar generation in November 2023, in TWh? | 3.3
4     | Table    | What is the battery storage capacity of the Redwood Gate solar project in MWh? | 1,240
4     | Table    | In which year did the Owens Dry Lake solar plant come online? | 2023
5     | Chart    | What was the installed cost of residential solar in 2021, in dollars per watt? | 2.69
5     | Chart    | What did a utility-scale solar system cost per watt in 2022? | 1.12
5     | Figure   | What block label is painted on the sign in the aerial photo of the Sunfield Mesa array? | BLOCK C-14
6     | Table    | How many GW of solar additions does the base case forecast for the Plains region in 2025? | 1.8
1     | Text     | What was the fleet-wide average solar capacity factor in 2023? | 21.4 percent
1     | Text     | Who is the lead author of the Regional Solar Outlook 2024? | Dr. Maren Okafor
3     | Text     | What mean absolute error did day-ahead solar output forecasts reach? | 4.6 percent
"""

DOC = Doc(
    name="solar_outlook_2024.pdf", title="Regional Solar Outlook 2024", author="Helios Energy Institute",
    header="Helios Energy Institute | Regional Solar Outlook 2024", logo=("H", (229, 125, 33)),
    subtitle="Installed capacity, generation, costs and project pipeline across five grid regions. Lead author: Dr. "
             "Maren Okafor.",
    pages=PAGES, questions=QUESTIONS, checks={"capacity must total 48.6 GW": round(sum(CAPACITY), 1) == 48.6},
)
