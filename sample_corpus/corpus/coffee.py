"""Arabica Coffee Market Note Q3 2024: a raster line chart, a vector bar chart and pie, tables."""

from __future__ import annotations

from .charts import MONTHS, BarChart, LineChart, PieChart
from .layout import Cols, Doc, Figure, Full, Heading, Table

PRICE = [186.4, 188.9, 183.2, 221.5, 219.8, 226.1, 237.3, 239.6, 248.2]
ORIGINS = ["Brazil", "Vietnam", "Colombia", "Uganda", "Honduras", "Ethiopia"]
EXPORTS = [10.8, 6.2, 3.1, 1.6, 1.4, 1.2]
STOCK_ORIGINS = ["Brazil", "Honduras", "Colombia", "Peru", "Nicaragua", "Other"]
STOCK_SHARE = [38, 21, 14, 11, 9, 7]
STOCKS = [  # month, certified stocks, pending grading (bags); 253,180 certified at the end of 2023
    ("Jan", 248016, 31420),
    ("Feb", 262754, 44910),
    ("Mar", 281330, 38205),
    ("Apr", 512870, 52760),
    ("May", 610455, 61300),
    ("Jun", 778962, 47115),
    ("Jul", 851304, 29880),
    ("Aug", 836117, 24650),
    ("Sep", 815690, 33075),
]
STOCK_ROWS = [["Month (2024)", "Certified stocks (bags)", "Pending grading (bags)", "Change m/m (%)"]]
STOCK_ROWS += [
    [month, f"{stock:,}", f"{pending:,}", f"{(stock - prev) / prev * 100:+.1f}"]
    for (month, stock, pending), prev in zip(STOCKS, [253180] + [s for _, s, _ in STOCKS])
]

PAGES = [
    [  # 1
        Cols([Heading("Key Points"),
              "The ICE arabica front-month contract averaged 241.7 US cents per pound in the third quarter of 2024, "
              "the highest quarterly average since 2011. Dry weather in Minas Gerais during flowering raised concern "
              "about the 2025 Brazilian crop.",
              "We forecast global production of 176.4 million 60-kg bags in 2024/25, up 3.6 percent, and consumption "
              "of 175.9 million bags, leaving a small surplus."],
             [Heading("Recommendation"),
              "We keep a neutral view for Q4 2024 with a target range of 225 to 255 US cents per pound. Roasters "
              "should extend hedge cover into the first half of 2025 while the forward curve remains in backwardation.",
              "The main upside risk is a second dry spell in Brazil in October; the main downside risk is a "
              "faster-than-expected release of certified stocks."]),
    ], [  # 2
        Full([Heading("1  Prices"),
              "Prices jumped in April when the Brazilian harvest started late, then climbed steadily through the third "
              "quarter as exporters held back sales."]),
        Figure(LineChart(MONTHS[:9], [("Price", PRICE)], "US cents/lb", "Month of 2024", 160, 270, color=3,
                         raster=True),
               "Figure 1: Monthly average of the ICE arabica front-month price, January–September 2024.",
               "below", 504, 220, gap=4),
        Cols(["The spread between arabica and robusta narrowed to 78 US cents per pound in September, its lowest level "
              "in four years, as robusta rallied on Vietnamese crop losses."],
             ["Implied volatility on at-the-money options averaged 34 percent in the quarter, compared with 29 percent "
              "in the second quarter."]),
    ], [  # 3
        Full([Heading("2  Exports and Stocks"),
              "Exports from the main origins stayed strong despite logistics bottlenecks at the port of Santos."]),
        Figure(BarChart(ORIGINS, EXPORTS, "Exports (million bags)", "Origin", ymax=12, ticks=[0, 3, 6, 9, 12], color=3),
               "Fig. 2. Green coffee exports by origin in the third quarter of 2024 (million 60-kg bags).",
               "above", 444, 190, gap=4),
        Figure(PieChart(STOCK_ORIGINS, STOCK_SHARE),
               "Figure 3: Certified arabica stocks by country of origin, end of September 2024.", "below", 324, 170),
        Cols(["Honduran coffee now makes up a fifth of certified stocks after a large grading round in June."],
             ["Brazilian semi-washed coffee became deliverable in 2023 and remains the largest origin."]),
    ], [  # 4
        Full([Heading("3  Certified Stocks"),
              "Certified stocks more than tripled in the first half of the year before easing slightly in August and "
              "September as merchants withdrew coffee for shipment to roasters."]),
        Table(STOCK_ROWS, [100, 130, 130, 104], 20,
              "Table 1: ICE certified arabica stocks at month-end, 2024.", "above", gap=4),
        Table("""
            Million 60-kg bags | 2023/24 | 2024/25f | Change
            Production         | 170.2   | 176.4    | +6.2
            Consumption        | 173.1   | 175.9    | +2.8
            Exports            | 128.9   | 131.7    | +2.8
            Ending stocks      | 27.6    | 28.1     | +0.5
            """, [150, 90, 90, 80], 60, "Table 2: World coffee supply and demand balance.", "below", gap=6),
        Cols(["Ending stocks remain low relative to consumption, at about 16 percent, which keeps the market sensitive "
              "to weather news."],
             ["The balance includes both arabica and robusta; arabica accounts for 56 percent of production."]),
    ], [  # 5
        Cols([Heading("4  Outlook"),
              "The Brazilian 2025/26 crop will be shaped by rainfall in October and November. Our base case assumes "
              "normal rains and a crop of 68.5 million bags.",
              "Demand growth is led by China and Indonesia, where cafe chains opened more than 9,000 outlets in the "
              "first nine months of 2024."],
             [Heading("Disclaimer"),
              "This note is for information only and does not constitute investment advice. Kestrel Commodities "
              "Research, Hamburg. Published 7 October 2024."]),
    ],
]

QUESTIONS = """
pages         | evidence | question | answer
2             | Chart    | What was the monthly average ICE arabica front-month price in April 2024? | 221.5 US cents/lb
2             | Chart    | What did arabica futures average in August 2024? | 239.6 US cents/lb
3             | Chart    | How many million bags of green coffee did Colombia export in Q3 2024? | 3.1
3             | Chart    | What were Ethiopia's green coffee exports in the third quarter of 2024? | 1.2 million bags
3             | Chart    | What share of ICE certified arabica stocks originated in Peru? | 11%
4             | Table    | How many bags of certified arabica stocks did ICE hold at the end of June 2024? | 778,962
4             | Table    | How many bags were pending grading at the end of May 2024? | 61,300
4             | Table    | What is the forecast for world coffee ending stocks in 2024/25? | 28.1 million bags
1             | Text     | Which analyst wrote the Q3 2024 arabica market note? | Tobias Lindqvist
2             | Text     | How wide was the arabica-robusta spread in September 2024? | 78 US cents per pound
1, 2, 3, 4, 5 | Layout   | What organisation is named in the running header of the arabica market note?
                         | Kestrel Commodities Research
"""

DOC = Doc(
    name="arabica_market_note_q3_2024.pdf", title="Arabica Coffee Market Note, Q3 "
                                                  "2024", author="Kestrel Commodities Research",
    header="Kestrel Commodities Research - Arabica Coffee Market Note Q3 2024", logo=("K", (199, 51, 56)),
    subtitle="Prices, exports, certified stocks and the 2024/25 balance. Analyst: Tobias Lindqvist.",
    pages=PAGES, questions=QUESTIONS,
    checks={"the Q3 price average must be 241.7": round(sum(PRICE[6:9]) / 3, 1) == 241.7,
            "stock shares must total 100": sum(STOCK_SHARE) == 100},
)
