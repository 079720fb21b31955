"""The workshop's glossary: the terms its pages use, in plain words (marked for translation).

Shown at ``/glossary``, linked from the briefing, the dashboard and the debrief,
and printed at the end of a downloaded debrief (which links nowhere).
"""

from __future__ import annotations

from sim.i18n import N_

#: (anchor, term, definition) in the order the glossary shows them.
GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("nps", N_("NPS (Net Promoter Score)"),
     N_("Survey question: 'How likely are you to recommend us, from 0 to 10?' The share who answer "
        "9 or 10 (promoters) minus the share who answer 0 to 6 (detractors), from −100 to +100. "
        "Only customers who answer a survey count.")),
    ("csat", N_("CSAT (customer satisfaction score)"),
     N_("Survey question: 'How satisfied are you, from 1 to 5?' The average answer. Like NPS it "
        "comes from the few customers who answer, so it is late and noisy.")),
    ("satisfaction", N_("Satisfaction (true)"),
     N_("How content customers really are, which nobody in the firm sees while playing; surveys "
        "and complaints are glimpses of it. The debrief shows it afterwards.")),
    ("churn", N_("Churn, churn rate"),
     N_("Customers who stop buying from the firm. The churn rate is the share of customers lost "
        "in a period: 5 % a quarter means 5 of every 100 customers left in that quarter.")),
    ("retention", N_("Retention"),
     N_("The opposite of churn: the share of customers who stay. Keeping a customer is usually "
        "much cheaper than winning a new one.")),
    ("loyalty", N_("Loyalty"),
     N_("A customer's own attachment to the firm, built by good experiences over time. A loyal "
        "customer stays even when a competitor offers a better deal.")),
    ("lockin", N_("Lock-in (points, contracts)"),
     N_("Keeping customers with something they would lose by leaving (collected points, a "
        "contract), not because they are satisfied. It holds them only until a competitor buys "
        "them out; see \"Retained, not loyal\".")),
    ("retained_not_loyal", N_("Retained, not loyal"),
     N_("The share of customers who still buy only because of lock-in: they are not loyal and "
        "leave at once when the lock-in is matched.")),
    ("clv", N_("CLV (customer lifetime value)"),
     N_("What a customer is expected to bring the firm over the whole time they stay: spend a "
        "week times the weeks they are expected to remain. A big spender about to leave can be "
        "worth less than a small one who stays for years.")),
    ("segment", N_("Segment"),
     N_("A group of customers with a label (for example big accounts or bargain hunters). "
        "Customers inside one segment still differ a great deal.")),
    ("crm", N_("CRM"),
     N_("Customer relationship management: the firm's records of its customers (purchases, "
        "complaints, survey answers). The dashboard is what the CRM shows.")),
    ("complaints", N_("Complaint handling, complaint queue"),
     N_("Complaints wait in a queue until money for complaint handling deals with them. A "
        "complaint handled in time can make a customer more loyal; one left waiting drives them "
        "away.")),
    ("service", N_("Service"),
     N_("Money spent on looking after existing customers (visits, help, better terms). You choose "
        "who gets it: named customers, customer lists, segments.")),
    ("acquisition", N_("Acquisition (winning new customers)"),
     N_("Money spent on advertising and sales to win customers the firm does not have yet.")),
    ("promise", N_("Promise level"),
     N_("How much the advertising promises: 50 is exactly what the firm delivers. Promising more "
        "wins customers now and disappoints them later.")),
    ("range", N_("Product range"),
     N_("What the firm offers. Customers' needs move; a range tuned to last year's purchases "
        "fits this year's customers less and less.")),
    ("bot", N_("Data-driven bot"),
     N_("A computer manager who played the very same market and serves where the most customer "
        "value is at risk, with no bias. The biased bots are the same manager with one bias.")),
    ("bias", N_("Bias profile"),
     N_("For each decision bias a score from 0 (no sign) to 1 (as strong as a fully biased "
        "manager), read from your decisions, never from your results. From 0.35 your decisions "
        "resemble the bias.")),
    ("practice", N_("Practice round"),
     N_("One quarter on another market, played before round 1 to try the controls. It does not "
        "count: it is not in your debrief, your bias profile or the class report.")),
    ("standing", N_("Standing plan"),
     N_("In a class with a countdown: the plan submitted for you when time runs out, the plan "
        "of your last round (the previous manager's plan in round 1).")),
)
