"""The workshop: a bias-awareness exercise trainees play in a browser.

- `sim.workshop.engine`: the exercise itself, scriptable from Python (create a
  workshop, join, read the dashboard, submit rounds, debrief, bias profile);
- `sim.workshop.game`: one trainee's game, round by round (plans, dashboard);
- `sim.workshop.customer_lists`: the customer lists a plan can direct service money to;
- `sim.workshop.bots`: bots that play through the same controls as a trainee;
- `sim.workshop.profile`: the bias profile of a series of decisions;
- `sim.workshop.store`: SQLite persistence (a restart loses nothing);
- `sim.workshop.app`: the Starlette web app (server-rendered pages and charts);
- `sim.workshop.cli`: `retention-lab workshop serve`.

Nothing is imported here, so `import sim.workshop` costs nothing.
"""
