"""2023 Ridership Study: a vector pie and line chart, a raster bar chart, tables and a scanned memo page."""

from __future__ import annotations

from .charts import MONTHS, BarChart, LineChart, PieChart
from .layout import Cols, Doc, Figure, Full, Heading, Lines, Scanned, Table

MODES = ["Bus", "Light rail", "Commuter rail", "Streetcar", "Paratransit"]
MODE_SHARE = [46, 31, 14, 6, 3]
LINES = ["Red Line", "Blue Line", "Gold Line", "Route 12", "Route 40"]
LINE_BOARDINGS = [48200, 39700, 27350, 14900, 9850]
MONTHLY = [4.52, 4.61, 5.28, 5.12, 5.26, 5.01, 4.88, 5.10, 5.59, 5.67, 5.42, 4.84]

MEMO = [  # page 5, a scan
    Full([Lines("Appendix C: Fare Survey Memo", 16, "hebo", after=8),
          *(Lines(line, 11.5, after=1) for line in [
              "To: Board of Directors, Metro Valley Transit Authority",
              "From: Office of Planning and Analysis",
              "Date: 14 March 2024",
              "Subject: Results of the autumn 2023 onboard fare survey"])], gap=4),
    Full([Lines(text, 11.5, after=8) for text in [
        "Survey staff interviewed 2,840 riders on 46 bus routes and all three rail lines between 9 and 27 October "
        "2023. Responses were weighted by route and time of day to match total ridership.",
        "The TapGo smart card is now the dominant way to pay. Cash use has fallen by half since the 2019 survey, and "
        "most cash riders said they would switch if cards were sold at more corner shops.",
        "The most requested improvement was more frequent weekend service, cited by 41 percent of respondents. "
        "Real-time arrival information came second with 27 percent. The average trip length reported by riders was 7.8 "
        "miles."]], gap=10),
    Table("""
        Payment method | Share of riders
        TapGo card     | 62%
        Mobile app     | 24%
        Cash           | 9%
        Paper ticket   | 5%
        """, [220, 140], 60, gap=6, row_h=22, size=11.5),
    Full([Lines("Recommendation: extend the TapGo fare cap to weekly passes from July 2024.", 11.5, "hebo")], gap=16),
]

PAGES = [
    [  # 1
        Cols([Heading("Summary"),
              "Metro Valley Transit carried 61.3 million boardings in 2023, an increase of 9.4 percent over the 56.0 "
              "million recorded in 2022. Ridership has now recovered to 87 percent of the 2019 level of 70.5 million "
              "boardings.",
              "The farebox recovery ratio improved to 23.8 percent from 21.1 percent, as fare revenue grew faster than "
              "operating costs."],
             [Heading("Highlights"),
              "Weekend ridership recovered faster than weekday ridership, reaching 94 percent of pre-pandemic levels. "
              "Commuter rail remains the slowest to recover because of hybrid work.",
              "The Red Line was again the busiest line, and Union Terminal the busiest station. The new Airport Plaza "
              "station posted the largest growth of any station.",
              "Service hours increased by 6.2 percent after the operator shortage of 2022 eased."]),
    ], [  # 2
        Full([Heading("1  Mode Share"),
              "Buses still carry almost half of all trips, but light rail gained two percentage points of share after "
              "the Gold Line extension opened in April 2023."]),
        Figure(PieChart(MODES, MODE_SHARE), "Figure 1: Share of 2023 boardings by mode.", "below", 384, 180, gap=4),
        Cols(["Paratransit trips grew by 12 percent, the highest rate of any mode, driven by the same-day booking "
              "pilot launched in the eastern service area."],
             ["Streetcar ridership remained flat. The authority is reviewing the downtown loop's 15-minute headways as "
              "part of the 2025 network redesign."]),
    ], [  # 3
        Full([Heading("2  Ridership by Line"),
              "The five busiest lines carried 58 percent of all weekday boardings. Route 40, the airport express, "
              "entered the top five for the first time."]),
        Figure(BarChart(LINES, LINE_BOARDINGS, "Weekday boardings", "Line", ymax=56000, fmt="{:,.0f}", color=3,
                        raster=True),
               "Figure 2: Average weekday boardings on the five busiest lines in 2023.", "below", 460, 230, gap=4),
        Cols(["Crowding on the Red Line peaked at 128 percent of seated capacity on the morning inbound trip between "
              "Westgate Mall and Civic Center."],
             ["Route 12 Crosstown benefited from new bus lanes on Alvarado Boulevard, which cut average run times by "
              "seven minutes."]),
    ], [  # 4
        Full([Heading("3  Station Activity"),
              "Station entries are counted by fare gates and platform validators. Table 1 lists the busiest rail "
              "stations by average weekday entries."]),
        Table("""
            Station        | Line     | Weekday entries | Change vs 2022 (%)
            Union Terminal | Red      | 18,420          | +11.2
            Civic Center   | Red/Blue | 14,975          | +8.7
            Harbor Point   | Blue     | 9,310           | +14.5
            University Ave | Gold     | 8,845           | +6.1
            Westgate Mall  | Red      | 7,260           | +3.9
            Riverside Park | Blue     | 6,105           | +9.8
            Airport Plaza  | Gold     | 5,740           | +21.3
            """, [130, 80, 100, 110], 40,
            "Table 1: Busiest rail stations by average weekday entries, 2023.", "above", gap=4),
        Table("""
            Mode          | On-time (%) | Average delay (min)
            Bus           | 81.4        | 3.6
            Light rail    | 92.7        | 1.4
            Commuter rail | 94.1        | 1.1
            Streetcar     | 88.3        | 2.2
            """, [130, 90, 110], 90, "Table 2 – On-time performance by mode, 2023.", "below", gap=4),
        Cols(["A vehicle counts as on time when it departs no more than one minute early or five minutes late at timed "
              "stops."],
             ["Bus reliability suffered from construction detours on Fifth Street during the summer."]),
    ], Scanned(MEMO), [  # 5, 6
        Full([Heading("4  Monthly Trends and Recommendations"),
              "Monthly boardings dipped in the summer school holidays and peaked in October, when university terms and "
              "a regional trade fair coincided."]),
        Figure(LineChart(MONTHS, [("Boardings", MONTHLY)], "Boardings (millions)", "Month of 2023", 4, 6,
                         ticks=[4, 4.5, 5, 5.5, 6], fmt="{:.2f}"),
               "Fig. 3. Total monthly boardings in 2023 (millions).", "above", 484, 210, gap=4),
        Cols(["The study recommends restoring 15-minute weekend frequency on all rail lines, extending the TapGo fare "
              "cap and adding real-time displays at the 40 busiest bus stops."],
             ["Together these measures are projected to add 2.4 million annual boardings by 2025 at a net cost of $6.8 "
              "million a year."]),
    ],
]

QUESTIONS = """
pages | evidence | question | answer
2     | Chart    | What share of Metro Valley's 2023 boardings was made on light rail? | 31%
2     | Chart    | What percentage of 2023 transit trips were taken by streetcar? | 6%
3     | Chart    | How many average weekday boardings did the Blue Line have in 2023? | 39,700
3     | Chart    | What were the average weekday boardings on Route 40 in 2023? | 9,850
4     | Table    | How many weekday entries does Harbor Point station record on average? | 9,310
4     | Table    | By how much did weekday entries at Airport Plaza change compared with 2022? | +21.3%
4     | Table    | What was the on-time performance of light rail in 2023? | 92.7%
6     | Chart    | How many million boardings did Metro Valley Transit carry in October 2023? | 5.67
5     | Text     | How many riders were interviewed in the autumn 2023 fare survey? | 2,840
5     | Text     | Which service improvement did riders request most often in the fare survey?
                 | More frequent weekend service
5     | Text     | What average trip length did riders report in the fare survey? | 7.8 miles
1     | Text     | What was Metro Valley Transit's farebox recovery ratio in 2023? | 23.8 percent
5     | Layout   | Which page of the 2023 ridership study is a scanned appendix memo? | 5
"""

DOC = Doc(
    name="transit_ridership_2023.pdf", title="2023 Ridership Study", author="Metro Valley Transit Authority",
    header="Metro Valley Transit Authority - 2023 Ridership Study", logo=("M", (31, 102, 171)),
    subtitle="Annual boardings, mode share, line and station performance. Study director: Priya Castellanos.",
    pages=PAGES, questions=QUESTIONS,
    checks={"monthly boardings must total 61.3 million": round(sum(MONTHLY), 2) == 61.3,
            "mode shares must total 100": sum(MODE_SHARE) == 100},
)
