"""The capacity review as the report shows it: tables with local dates, money with currency and plain column
names, and the cost sentence. The report notebook only calls these; nothing is worded in its cells."""

from __future__ import annotations

import html

import pandas as pd

from sre_lib.analysis import scaling
from sre_lib.reviews.blocks import Html, TableLayout, local_times, money, since_times
from sre_lib.reviews.capacity.assembly import TRIGGER_RECENT_DAYS
from sre_lib.reviews.capacity.review_model import CapacityReview

# The policy indicators the report lists apart: Redis memory, hit ratio, evictions and clients, and database
# connections (seed: Cache Management, Redis Monitoring; Database connection pool).
# Elasticsearch cluster health and the TLS certificate's days to expiry are listed with them.
POLICY_STATUS_METRICS = (
    "redis_memory", "redis_hit_ratio", "redis_evictions", "redis_clients", "db_connections", "es_status",
    "es_unassigned_shards", "es_jvm_heap", "tls_cert_days",
)  # fmt: skip
#: The colour of each status in the coverage table; "not monitored" is grey: it says what to collect.
COVERAGE_COLOURS = {
    "healthy": "#1e8e3e", "warning": "#b06000", "critical": "#d93025", "no data": "#5f6368",
    "not monitored": "#80868b", "collected (no bands)": "#3c4043",
}  # fmt: skip
COVERAGE_HEADINGS = {
    "component": "component", "indicator": "indicator", "status": "status", "servers": "servers",
    "detail": "detail", "catalogue": "catalogue entry", "query": "PromQL that supplies it",
}  # fmt: skip

ACTIONS_LAYOUT = TableLayout(empty="Nothing to do: no threshold is likely crossed within the horizon.")
COMPONENT_STATUS_LAYOUT = TableLayout({
    "component": "component", "status": "status", "metric": "worst indicator", "instance": "server",
    "detail": "detail", "since": "since",
})  # fmt: skip
CROSSINGS_LAYOUT = TableLayout({
    "component": "component", "instance": "server", "metric": "metric", "summary": "crossing",
    "trustworthy": "trustworthy", "reason": "why not",
})  # fmt: skip
DISK_ALERT_LAYOUT = TableLayout(
    {
        "component": "component", "instance": "server", "value_now": "used now", "trend": "trend (last 7 days)",
        "level": "critical level", "predict_linear_date": "predict_linear reaches it",
        "forecast_likely_date": "forecast: likely",
    },
    formats={"value_now": "pct", "level": "pct"},
)  # fmt: skip
POLICY_REPLAY_LAYOUT = TableLayout(empty="No app-tier CPU history to replay.")
PLAN_OPTIONS_LAYOUT = TableLayout(
    {
        "size": "size", "servers_needed": "servers needed", "within_max_servers": "within max",
        "monthly_cost": "cost / month", "action": "if chosen",
    },
    formats={"monthly_cost": "money"},
)  # fmt: skip
FIRED_TRIGGERS_LAYOUT = TableLayout(
    {
        "trigger": "trigger", "component": "component", "last_fired": "last fired", "episodes": "episodes",
        "recent": f"fired in the last {TRIGGER_RECENT_DAYS} days", "recommended_size": "next size",
        "monthly_difference": "extra / month",
    },
    formats={"monthly_difference": "money"},
    empty="No resize trigger fired in the window.",
)  # fmt: skip
POLICY_STATUS_LAYOUT = TableLayout({"component": "component", "metric": "metric", "status": "status",
                                    "detail": "detail"})  # fmt: skip


def actions_table(review: CapacityReview) -> pd.DataFrame:
    """The action list as a manager reads it: local dates, money with currency, plain column names."""
    currency = review.config.platform.currency
    frame = review.actions.copy()
    frame["by"] = frame["by"].map(lambda day: f"{day:%a %d %b %Y}" if pd.notna(day) else "")
    frame["monthly_cost_change"] = frame["monthly_cost_change"].map(lambda value: money(value, currency))
    frame["trustworthy"] = frame["trustworthy"].map(lambda ok: "" if ok else "forecast not trustworthy")
    renamed = frame.rename(
        columns={"action": "what to do", "monthly_cost_change": "cost / month", "trustworthy": "caveat"}
    )
    return renamed[["by", "component", "what to do", "cost / month", "why", "caveat"]]


def policy_table(review: CapacityReview) -> pd.DataFrame:
    """The scaling-policy replay as a manager reads it: one row per policy, whole minutes, money with currency;
    the minutes without load data too, when the window has any (no policy decides on them)."""
    if not review.simulations:
        return pd.DataFrame()
    currency = review.config.platform.currency
    frame = scaling.compare(list(review.simulations)).reset_index()
    minutes = ["warning_minutes", "critical_minutes", "no_data_minutes", "saturation_minutes"]
    shown = frame.assign(
        average_servers=frame["average_servers"].round(2),
        monthly_cost=frame["monthly_cost"].map(lambda value: money(value, currency, signed=False)),
        **{column: frame[column].round().astype("int64") for column in minutes},
    )
    shown.insert(1, "how", [result.policy.describe() for result in review.simulations])
    labels = {
        "policy": "policy", "how": "how it scales", "scale_outs": "servers added", "scale_ins": "servers removed",
        "average_servers": "average servers", "peak_servers": "peak servers", "warning_minutes": "minutes warning",
        "critical_minutes": "minutes critical", "no_data_minutes": "minutes without data",
        "saturation_minutes": "minutes saturated", "monthly_cost": "cost / month",
    }  # fmt: skip
    if not frame["no_data_minutes"].any():
        del labels["no_data_minutes"]
    return shown[list(labels)].rename(columns=labels)


def cost_sentence(review: CapacityReview) -> str:
    """What the inventory costs per month today and what the dated actions add, all taken, in the platform's
    currency (each cost against today; the steps of one change count once, see ``monthly_cost_change``)."""
    currency = review.config.platform.currency
    return (
        f"Inventory today: {review.monthly_cost:,.2f} {currency} per month; the actions above, all "
        f"taken, add {review.monthly_cost_change:+,.2f} {currency} per month (each cost is "
        "against today; the steps of one change, such as a third then a fourth server, count once)."
    )


def plan_summary(review: CapacityReview) -> list[str]:
    """The sentences under the action list: the cost, the latency answer when there is one, the planning
    question."""
    return [cost_sentence(review), *([str(review.latency)] if review.latency else []), review.planning]


def component_status(review: CapacityReview) -> pd.DataFrame:
    """Each component's worst indicator now, ``since`` in local time ("before ..." when clipped)."""
    return since_times(review.rollup.components, review.config.tz)


def crossing_table_rows(review: CapacityReview) -> pd.DataFrame:
    """The crossings a report lists (``crossing_rows``), with local dates."""
    return local_times(review.crossing_rows(), review.config.tz, [], "%Y-%m-%d")


def disk_alert_rows(review: CapacityReview) -> pd.DataFrame:
    """The disk alert view with local dates, saying "never" where the line does not rise, "no date yet" where
    it has too little history to be judged, and "not within N days" where the forecast does not cross within
    the horizon."""
    tz = review.config.tz
    linear = local_times(review.alert_view, tz, ["predict_linear_date"], "%Y-%m-%d", missing="never (flat or falling)")
    if "judged" in linear:
        linear.loc[~linear["judged"].astype(bool), "predict_linear_date"] = "no date yet"
    missing = f"not within {review.horizon_days} days"
    return local_times(linear, tz, ["forecast_likely_date"], "%Y-%m-%d", missing=missing)


def fired_triggers(review: CapacityReview) -> pd.DataFrame:
    """The vertical triggers that fired in the window, ``recent`` read as "yes: act" or "no: watch"; no rows
    when none fired."""
    vertical = review.vertical
    if vertical.empty or not vertical["fires"].any():
        return pd.DataFrame()
    return local_times(vertical[vertical["fires"]], review.config.tz, ["last_fired"]).assign(
        recent=lambda frame: frame["recent"].map({True: "yes: act", False: "no: watch"})
    )


def policy_status(review: CapacityReview) -> pd.DataFrame:
    """The current status of the Redis and connection-pool indicators (``POLICY_STATUS_METRICS``)."""
    return review.status[review.status["metric"].isin(list(POLICY_STATUS_METRICS))]


def coverage_table(review: CapacityReview) -> Html:
    """Every component x indicator the config expects (``health.coverage``), each row in its status's colour and
    "not monitored" rows in grey, with the catalogue entry and PromQL that would supply it. Escaped HTML."""
    frame = review.coverage
    if frame.empty:
        return Html("<p><em>no component configured</em></p>")
    head = "".join(f"<th>{html.escape(label)}</th>" for label in COVERAGE_HEADINGS.values())
    body = []
    for row in frame.itertuples(index=False):
        colour = COVERAGE_COLOURS.get(str(row.status), "#3c4043")
        cells = []
        for column in COVERAGE_HEADINGS:
            text = html.escape(str(getattr(row, column)))
            cells.append(f"<td><code>{text}</code></td>" if column == "query" and text else f"<td>{text}</td>")
        body.append(f'<tr class="sre-coverage" style="color: {colour}">{"".join(cells)}</tr>')
    return Html(
        '<table class="dataframe sre-table sre-coverage"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def coverage_sentence(review: CapacityReview) -> str:
    """How much of what the config expects is monitored, in one sentence ("31 of 40 indicators ...")."""
    frame = review.coverage
    if frame.empty:
        return "No component is configured."
    unseen = frame[frame["status"] == "not monitored"]
    components = review.rollup.components
    silent = list(components.loc[components["status"].astype(str) == "not monitored", "component"])
    sentence = (
        f"{len(frame) - len(unseen)} of {len(frame)} expected indicators are monitored; the "
        f"{len(unseen)} not monitored (grey) do not colour the verdict."
    )
    if silent:
        sentence += f" Not monitored at all: {', '.join(silent)}."
    return sentence
