"""The console's own words in Chinese and English (the catalog brings its own texts).

Chinese is the default: the console is for district offices and the enterprises
they serve. ``?lang=en`` (or the form's ``lang`` field) switches a page to English.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LANGUAGES = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "console": ("政策兑现控制台", "Policy incentive console"),
    "home": ("首页", "Home"),
    "self_check": ("企业自测", "Enterprise self-check"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "api_key": ("API 密钥", "API key"),
    "signed_in_as": ("当前身份", "Signed in as"),
    "enterprises": ("企业", "Enterprises"),
    "budgets": ("预算", "Budgets"),
    "audit": ("审计", "Audit"),
    "fiscal_year": ("财政年度", "Fiscal year"),
    "check": ("测算", "Check"),
    "save_profile": ("保存画像文件", "Save profile file"),
    "load_profile": ("载入画像文件", "Load profile file"),
    "profile_file": ("画像文件 (JSON)", "Profile file (JSON)"),
    "load": ("载入", "Load"),
    "name": ("名称", "Name"),
    "unknown": ("未知", "unknown"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "facts": ("基本信息", "Facts"),
    "years": ("年度数据", "Yearly figures"),
    "recognitions": ("已获认定", "Recognitions held"),
    "kind": ("类别", "Kind"),
    "level": ("层级", "Level"),
    "granted_on": ("认定日期", "Granted on"),
    "expires_on": ("有效期至", "Expires on"),
    "answer": ("测算结果", "Answer"),
    "eligible": ("符合", "eligible"),
    "ineligible": ("不符合", "ineligible"),
    "undetermined": ("待定", "undetermined"),
    "amount": ("金额 (元)", "Amount (yuan)"),
    "reasons": ("逐条理由", "Reasons, clause by clause"),
    "missing_facts": ("缺少的信息", "Missing facts"),
    "findings_required": ("需主管部门认定", "Findings an official must make"),
    "ladders": ("认定阶梯", "Recognition ladders"),
    "next_rung": ("下一级", "Next rung"),
    "distance": ("差距", "Distance"),
    "out_of_reach": ("规模不符,暂不可达", "out of reach (size test)"),
    "totals": ("合计", "Totals"),
    "met": ("满足", "met"),
    "unmet": ("不满足", "not met"),
    "fix_fields": ("请更正以下字段", "Please correct these fields"),
    "search": ("搜索", "Search"),
    "search_hint": ("名称或统一社会信用代码", "name or USCC"),
    "district": ("区", "District"),
    "city": ("市", "City"),
    "filter": ("筛选", "Filter"),
    "any": ("全部", "any"),
    "next_page": ("下一页", "Next page"),
    "entitlements": ("可享政策", "Entitlements"),
    "compute_award": ("核算奖补", "Compute award"),
    "awards": ("奖补记录", "Awards"),
    "status": ("状态", "Status"),
    "policy": ("政策", "Policy"),
    "versions": ("画像版本", "Profile versions"),
    "award": ("奖补", "Award"),
    "events": ("经过", "History"),
    "public_notice": ("公示", "Public notice"),
    "notice_start": ("公示开始", "Notice starts"),
    "notice_end": ("公示结束", "Notice ends"),
    "start_notice": ("开始公示", "Start the public notice"),
    "objection": ("异议", "Objection"),
    "objection_by": ("提出人", "Raised by"),
    "record_objection": ("记录异议", "Record the objection"),
    "approve": ("批准", "Approve"),
    "disburse": ("拨付", "Disburse"),
    "reject": ("驳回", "Reject"),
    "revoke": ("撤销", "Revoke"),
    "reason": ("理由", "Reason"),
    "replay": ("复算", "Replay"),
    "stored": ("存档", "Stored"),
    "recomputed": ("复算", "Recomputed"),
    "matches": ("一致", "matches"),
    "differs": ("不一致", "differs"),
    "utilisation": ("预算执行", "Budget utilisation"),
    "committed": ("已批准", "Committed"),
    "disbursed": ("已拨付", "Disbursed"),
    "remaining": ("剩余", "Remaining"),
    "payer": ("出资方", "Payer"),
    "audit_log": ("审计日志", "Audit log"),
    "verify_chain": ("校验哈希链", "Verify the hash chain"),
    "checkpoint_seq": ("检查点序号", "Checkpoint sequence"),
    "checkpoint_hash": ("检查点哈希", "Checkpoint hash"),
    "chain_ok": ("哈希链完整", "The chain is intact"),
    "chain_broken": ("哈希链断裂", "The chain is broken"),
    "records": ("条记录", "records"),
    "head": ("链头", "head"),
    "first_bad": ("首个异常记录", "first bad record"),
    "current_checkpoint": ("当前检查点", "Current checkpoint"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "audit_csv": ("审计日志 CSV", "Audit log CSV"),
    "awards_csv": ("奖补 CSV", "Awards CSV"),
    "action": ("动作", "Action"),
    "object_type": ("对象类型", "Object type"),
    "object_id": ("对象编号", "Object id"),
    "actor": ("操作人", "Actor"),
    "when": ("时间", "When"),
    "error": ("出错了", "Something went wrong"),
    "not_found": ("未找到", "Not found"),
    "back": ("返回", "Back"),
    "portal_intro": (
        "门户:本辖区企业、奖补全过程与预算。",
        "Portal: your area's enterprises, awards from computation to payment, and budgets.",
    ),
    "auditor_intro": (
        "审计:日志、哈希链校验、复算与导出。",
        "Auditor: the log, the hash chain, replays and exports.",
    ),
    "self_check_intro": (
        "无需密钥:填写企业情况,查看可享政策、金额与理由。",
        "No key needed: fill in the enterprise's facts to see the policies, amounts and reasons.",
    ),
    "sign_in_intro": (
        "用门户、审计或企业的 API 密钥登录;密钥不会保存在浏览器中。",
        "Sign in with a portal, auditor or enterprise API key; the key itself is not kept in the browser.",
    ),
    "no_items": ("暂无记录", "Nothing here yet"),
    "language": ("English", "中文"),
    "skip": ("跳到正文", "Skip to content"),
    "unit_yuan": ("元", "yuan"),
    "unit_persons": ("人", "persons"),
    "unit_items": ("项", "items"),
    "unit_points": ("分", "points"),
    "unit_share": ("比例 (0–1)", "share (0–1)"),
    "unit_m2": ("平方米", "m²"),
    "unit_years": ("年", "years"),
    "unit_rank": ("名次", "rank"),
    "unit_enterprises": ("家", "enterprises"),
    "view": ("查看", "View"),
    "runs": ("免申即享匹配", "Matching runs"),
    "runs_intro": (
        "对本辖区全部企业逐项测算;完成后可将符合条件的结果一键生成奖补。",
        "Every enterprise of your area against the catalog; when done, a policy's eligible results become computed awards in one step.",
    ),
    "start_run": ("开始匹配", "Start a run"),
    "progress": ("进度", "Progress"),
    "per_policy": ("按政策汇总", "Per policy"),
    "budget_gap": ("预算缺口", "Budget gap"),
    "make_awards": ("生成奖补", "Make awards"),
    "awards_made": ("已生成奖补", "Awards made"),
    "results": ("匹配结果", "Results"),
    "what_if": ("政策模拟", "What-if"),
    "what_if_intro": (
        "调整一项政策的上限、比例、门槛或预算,或停用该政策,对比本辖区的受益企业与金额;台账不变。",
        "Change a policy's cap, rate, threshold or budget, or switch it off, and compare beneficiaries and totals in your area; the ledger does not change.",
    ),
    "switch_off": ("停用该政策", "switch the policy off"),
    "parameter": ("参数名", "Parameter"),
    "parameter_hint": (
        "政策版本中的参数名,见 GET /v1/policies/{id}",
        "a parameter of the policy's version, as GET /v1/policies/{id} lists them",
    ),
    "new_value": ("新值", "New value"),
    "budget_per_payer": ("每个出资方的年度预算 (元)", "Annual budget per payer (yuan)"),
    "start_what_if": ("开始模拟", "Run the scenario"),
    "baseline": ("现行", "baseline"),
    "scenario": ("模拟", "scenario"),
    "beneficiaries": ("受益企业", "Beneficiaries"),
    "gainers": ("增加受益", "Gain"),
    "losers": ("减少受益", "Lose"),
    "imports": ("批量导入", "Bulk import"),
    "imports_intro": (
        "上传 CSV 或 XLSX(中英文表头均可,见 policy_catalog/IMPORT.md);逐行校验,全部通过才写入。",
        "Upload a CSV or XLSX (Chinese or English headers, see policy_catalog/IMPORT.md); every row is checked, and the accepted rows are written all together or not at all.",
    ),
    "import_file": ("导入文件", "File to import"),
    "dry_run": ("仅校验,不写入", "check only, write nothing"),
    "import": ("导入", "Import"),
    "import_report": ("导入报告", "Import report"),
    "cancel_import": ("取消导入", "Cancel the import"),
    "import_queued": (
        "文件较大,已排队导入;本页在完成后显示导入报告。",
        "a large file, queued as a job: this page shows its report once it is done",
    ),
    "rows": ("行数", "rows"),
    "accepted": ("通过", "accepted"),
    "rejected": ("未通过", "rejected"),
    "created": ("新登记", "registered"),
    "updated": ("已更新", "updated"),
    "unchanged": ("无变化", "unchanged"),
    "applied": ("已写入", "written"),
    "nothing_written": ("未写入任何数据", "nothing was written"),
    "row": ("行", "Row"),
    "column": ("列", "Column"),
}


def language(request: Request, chosen: str | None = None) -> str:
    lang = chosen or request.query_params.get("lang") or "zh"
    return lang if lang in LANGUAGES else "zh"


#: The states of awards, runs and imports, as the API names them (``status``).
STATES: dict[str, tuple[str, str]] = {
    "computed": ("已核算", "computed"),
    "public_notice": ("公示中", "on public notice"),
    "approved": ("已批准", "approved"),
    "disbursed": ("已拨付", "disbursed"),
    "rejected": ("未通过", "rejected"),
    "revoked": ("已撤销", "revoked"),
    "superseded": ("已被替代", "superseded"),
    "queued": ("排队中", "queued"),
    "running": ("进行中", "running"),
    "done": ("已完成", "done"),
    "failed": ("失败", "failed"),
    "cancelled": ("已取消", "cancelled"),
}


def state_translator(lang: str) -> Callable[[str | None], str]:
    """``state(code)`` for templates: a status in ``lang`` (an unknown code as it is)."""
    index = LANGUAGES.index(lang)

    def state(code: str | None) -> str:
        if code is None:
            return "—"
        pair = STATES.get(code)
        return pair[index] if pair else code

    return state


def translator(lang: str) -> Callable[[str], str]:
    """``t(word)`` for templates: the console's word in ``lang``."""
    index = LANGUAGES.index(lang)

    def t(word: str) -> str:
        pair = WORDS.get(word)
        return pair[index] if pair else word

    return t
