"""VELTRA-2 trial summary: tables (one continued over two pages), a vector line chart, a raster bar chart."""

from __future__ import annotations

from .charts import BarChart, LineChart
from .layout import Cols, Doc, Figure, Full, Heading, Table

ARMS = ["Placebo", "10 mg", "20 mg", "40 mg"]
LDL_WEEKS = ["0", "4", "8", "12", "24"]
LDL_CHANGE = [
    ("Placebo", [0.0, -1.8, -2.4, -2.9, -3.1]),
    ("10 mg", [0.0, -21.5, -27.9, -31.2, -30.4]),
    ("20 mg", [0.0, -29.7, -36.8, -40.5, -39.8]),
    ("40 mg", [0.0, -36.2, -45.1, -48.7, -47.9]),
]
LDL_TARGET = [4, 38, 57, 71]
ADVERSE_EVENTS = """
Adverse event               | Placebo | 10 mg | 20 mg | 40 mg
Headache                    | 9       | 11    | 12    | 14
Nasopharyngitis             | 8       | 7     | 9     | 10
Myalgia                     | 3       | 5     | 6     | 9
Nausea                      | 4       | 6     | 5     | 8
Dizziness                   | 5       | 4     | 6     | 7
Fatigue                     | 6       | 5     | 7     | 6
Back pain                   | 7       | 6     | 5     | 6
Diarrhea                    | 3       | 4     | 6     | 5
Arthralgia                  | 4       | 3     | 5     | 5
Upper respiratory infection | 6       | 5     | 4     | 6
Rash                        | 1       | 2     | 3     | 4
Insomnia                    | 2       | 3     | 2     | 3
Constipation                | 2       | 1     | 3     | 4
Hypertension                | 3       | 2     | 2     | 3
Cough                       | 4       | 3     | 2     | 2
Dyspepsia                   | 1       | 2     | 4     | 3
Muscle spasms               | 1       | 2     | 3     | 5
Urinary tract infection     | 2       | 3     | 1     | 2
Peripheral edema            | 2       | 1     | 2     | 3
Abdominal pain              | 3       | 2     | 2     | 2
Pain in extremity           | 1       | 3     | 2     | 4
Sinusitis                   | 2       | 2     | 3     | 1
Bronchitis                  | 1       | 2     | 1     | 3
Influenza                   | 3       | 2     | 2     | 1
ALT > 3x ULN                | 0       | 1     | 1     | 3
CK > 5x ULN                 | 0       | 0     | 1     | 2
"""

PAGES = [
    [  # 1
        Cols([Heading("Synopsis"),
              "VELTRA-2 enrolled 412 adults with primary hypercholesterolemia at 38 sites in 6 countries between "
              "February 2022 and August 2023. Patients were randomised 1:1:1:1 to placebo or veltrazine 10 mg, 20 mg "
              "or 40 mg once daily for 24 weeks, on top of stable statin therapy.",
              "The primary endpoint was the percent change in low-density lipoprotein cholesterol (LDL-C) from "
              "baseline to week 12. Secondary endpoints included other lipid parameters, the proportion of patients "
              "reaching LDL-C below 70 mg/dL and safety."],
             [Heading("Main Results"),
              "All three doses met the primary endpoint (p < 0.001 versus placebo). The effect was largely in place by "
              "week 8 and was maintained to week 24. The 40 mg dose was selected for the phase III programme, "
              "VELTRA-3, which started enrolment in May 2024.",
              "Veltrazine was generally well tolerated. Discontinuations because of adverse events were 2.9 percent on "
              "placebo and 4.8 percent on the 40 mg dose. No deaths occurred during the study.",
              "The independent data monitoring committee was chaired by Prof. Aurelio Santangelo and met four times."]),
    ], [  # 2
        Cols([Heading("1  Study Population"),
              "Of 655 patients screened, 412 were randomised and 389 completed 24 weeks of treatment. The most common "
              "reason for screen failure was an LDL-C value below the entry threshold of 100 mg/dL."],
             ["Baseline characteristics were balanced across arms. Most patients were taking a high-intensity statin, "
              "and 22 percent also received ezetimibe."]),
        Table("""
            Characteristic          | Placebo | 10 mg | 20 mg | 40 mg
            Patients randomised (n) | 103     | 102   | 104   | 103
            Age, mean (years)       | 58.4    | 57.9  | 59.1  | 58.7
            Female (%)              | 44.7    | 47.1  | 43.3  | 45.6
            BMI, mean (kg/m²)       | 29.2    | 28.8  | 29.5  | 29.0
            Baseline LDL-C (mg/dL)  | 148.3   | 151.0 | 146.9 | 149.6
            Type 2 diabetes (%)     | 21.4    | 19.6  | 23.1  | 20.4
            """, [160, 70, 70, 70, 70], 30,
            "Table 1: Baseline demographics and lipid values by treatment arm.", "above", gap=6),
        Cols(["Mean baseline LDL-C was 149.0 mg/dL overall. Twelve percent of patients had heterozygous familial "
              "hypercholesterolemia confirmed by genetic testing."],
             ["Randomisation was stratified by region and by statin intensity. The largest enrolling site was in "
              "Tartu, Estonia, with 27 patients."]),
    ], [  # 3
        Full([Heading("2  Efficacy"),
              "LDL-C fell rapidly in all veltrazine arms. The placebo-adjusted reduction at week 12 was 28.3, 37.6 and "
              "45.8 percentage points for the 10, 20 and 40 mg doses."]),
        Figure(LineChart(LDL_WEEKS, LDL_CHANGE, "Change in LDL-C (%)", "Week", -60, 5,
                         ticks=[-60, -50, -40, -30, -20, -10, 0], label_points=[3], legend_bottom=True),
               "Figure 1: Mean percent change from baseline in LDL-C by treatment arm through week 24.",
               "below", 484, 226, gap=4),
        Cols(["Reductions in apolipoprotein B and non-HDL cholesterol mirrored the LDL-C results. Triglycerides fell "
              "modestly, and HDL-C rose slightly in all active arms (Table 3)."],
             ["Responses were consistent across subgroups defined by age, sex, diabetes status and baseline LDL-C. "
              "Patients on ezetimibe showed slightly smaller relative reductions."]),
    ], [  # 4
        Figure(BarChart(ARMS, LDL_TARGET, "Patients (%)", "Treatment arm", ymax=85, fmt="{:.0f}%", color=2,
                        raster=True),
               "Fig. 2. Patients reaching LDL-C below 70 mg/dL at week 12, by arm.", "above", 380, 200),
        Full([Heading("3  Safety"),
              "Treatment-emergent adverse events were reported by 51 percent of patients on placebo and by 55 to 61 "
              "percent on veltrazine. Most events were mild. Muscle-related events increased with dose; none led to "
              "rhabdomyolysis."]),
        Table(ADVERSE_EVENTS, [184, 70, 70, 50, 50], 40,
              "Table 2 – Treatment-emergent adverse events reported in at least 1% of patients (number of patients).",
              "above", gap=4, overflow="Table 2 (continued)", continued_rows=["Bronchitis", "ALT > 3x ULN"]),
    ], [  # 5: the rest of Table 2 comes first
        Cols(["Liver enzyme elevations above three times the upper limit of normal were infrequent and resolved "
              "without stopping treatment in all but one patient, who was in the 40 mg arm.",
              "Creatine kinase rises above five times the upper limit of normal occurred in three patients, all of "
              "whom reported strenuous exercise in the preceding days."],
             ["There were 14 serious adverse events in total, none judged related to study drug by the investigators. "
              "The most frequent was atrial fibrillation, with 3 cases.",
              "Pharmacokinetic sampling in 96 patients showed dose-proportional exposure and a terminal half-life of "
              "31 hours, supporting once-daily dosing."]),
    ], [  # 6
        Full([Heading("4  Secondary Lipid Endpoints")]),
        Table("""
            Endpoint (mean % change) | Placebo | 10 mg | 20 mg | 40 mg
            Total cholesterol        | -1.9    | -19.4 | -25.2 | -30.8
            Non-HDL cholesterol      | -2.6    | -27.0 | -35.1 | -42.3
            Apolipoprotein B         | -2.2    | -23.8 | -31.6 | -38.9
            Triglycerides            | +1.4    | -8.6  | -11.9 | -14.7
            HDL-C                    | +0.8    | +3.1  | +4.0  | +5.2
            Lipoprotein(a)           | -0.5    | -6.3  | -9.1  | -12.4
            """, [160, 70, 70, 70, 70], 30,
            "Table 3: Secondary lipid endpoints at week 12 by treatment arm.", "below", gap=4),
        Cols([Heading("5  Conclusions"),
              "Veltrazine lowered LDL-C by up to 48.7 percent at week 12 when added to statins, with a safety profile "
              "that supports further development."],
             ["The phase III programme will enrol about 14,000 patients to test whether the lipid effects translate "
              "into fewer cardiovascular events. Report date: 12 April 2024."], gap=4),
    ],
]

QUESTIONS = """
pages | evidence | question | answer
2     | Table    | What was the mean baseline LDL-C of patients in the veltrazine 20 mg arm? | 146.9 mg/dL
2     | Table    | How many patients were randomised to veltrazine 40 mg in VELTRA-2? | 103
3     | Chart    | By how much did LDL-C change from baseline at week 12 on the 20 mg dose? | -40.5%
4     | Chart    | What percentage of patients on 40 mg got their LDL-C under 70 mg/dL by week 12? | 71%
4     | Chart    | What proportion of the 10 mg arm reached an LDL-C below 70 mg/dL at week 12? | 38%
4     | Table    | How many placebo patients reported headache as an adverse event? | 9
5     | Table    | How many patients on veltrazine 40 mg had ALT above 3x the upper limit of normal? | 3
5     | Table    | How many patients in the 10 mg arm reported bronchitis? | 2
6     | Table    | What was the mean percent change in lipoprotein(a) at week 12 with 40 mg veltrazine? | -12.4
1     | Text     | At how many sites was VELTRA-2 conducted? | 38
5     | Text     | What is the terminal half-life of veltrazine? | 31 hours
1     | Text     | Who chaired the independent data monitoring committee of VELTRA-2? | Prof. Aurelio Santangelo
5     | Layout   | On which page of the VELTRA-2 summary does the adverse event table continue? | 5
"""

DOC = Doc(
    name="veltra2_trial_summary.pdf", title="VELTRA-2: Veltrazine in Primary Hypercholesterolemia",
    header="VELTRA-2 Phase II Clinical Study Report - "
           "Summary", author="Corvane Therapeutics", logo=("C", (56, 153, 77)),
    subtitle="A randomised, double-blind, placebo-controlled, dose-ranging phase II study of oral veltrazine. "
             "Principal investigator: Dr. Ilse Brandvold.",
    pages=PAGES, questions=QUESTIONS,
)
