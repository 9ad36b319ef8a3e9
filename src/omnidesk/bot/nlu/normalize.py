"""Text normalisation and script-based language detection.

Invariants:
  * ``normalize`` is idempotent: ``normalize(normalize(t)) == normalize(t)``.
  * It never changes the number of *words*, only their form (NFKC, full-width → half-width, casefold,
    whitespace collapsed), so entity spans must be extracted from the *original* text, not from this one.
  * Traditional → simplified conversion is character-by-character from a small built-in table of the most
    frequent customer-service characters; it is deliberately conservative (no phrase-level conversion) so it
    never makes a simplified text worse.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["detect_language", "normalize", "to_half_width", "to_simplified"]

# Pairs "traditional simplified" of the most frequent characters that differ (customer service, commerce,
# banking, logistics). Kept small on purpose; extend as needed.
_T2S_PAIRS = (
    "們们 個个 這这 來来 時时 會会 說说 為为 與与 對对 後后 從从 還还 麼么 點点 裡里 裏里 開开 關关 "
    "問问 題题 號号 碼码 電电 話话 機机 帳账 賬账 戶户 錢钱 銀银 行行 貸贷 款款 額额 費费 價价 買买 賣卖 "
    "單单 訂订 貨货 運运 遞递 寄寄 郵邮 件件 處处 務务 發发 貨货 質质 換换 退退 還还 確确 認认 證证 "
    "登登 錄录 密密 碼码 帳账 號号 請请 謝谢 您您 嗎吗 呢呢 沒没 無无 線线 網网 絡络 軟软 體体 應应 該该 "
    "當当 實实 現现 經经 濟济 區区 國国 東东 車车 長长 門门 間间 見见 視视 覽览 聽听 讀读 寫写 學学 "
    "習习 樣样 種种 類类 際际 產产 業业 專专 屬属 氣气 歡欢 喜喜 愛爱 親亲 媽妈 爺爷 歲岁 醫医 藥药 "
    "療疗 險险 壞坏 錯错 誤误 難难 節节 華华 辦办 理理 員员 賣卖 積积 優优 惠惠 劃划 轉转 帶带 響响 "
    "頁页 顯显 示示 設设 置置 選选 擇择 據据 計计 算算 準准 備备 張张 寶宝 給给 讓让 幫帮 忙忙 條条 "
    "義义 圖图 書书 報报 紙纸 預预 約约 狀状 態态 衝冲 動动 隊队 職职 聯联 繫系 係系 週周 貼贴 紅红 "
    "綠绿 藍蓝 黃黄 鐘钟 鍾钟 錶表 戲戏 飛飞 場场 雙双 歸归 決决 極极 樂乐 藝艺 術术 萬万 億亿 "
    "廣广 廠厂 頭头 臉脸 腦脑 師师 傳传 達达 遠远 近近 邊边 過过 進进 連连 選选 遲迟 邀邀 "
    "筆笔 簡简 體体 繁繁 陽阳 陰阴 鐵铁 鋼钢 針针 錄录 鎖锁 閉闭 問问 隨随 險险 聲声 壓压 斷断 "
    "衛卫 習习 處处 歷历 曆历 麵面 麥麦 雞鸡 魚鱼 鳥鸟 馬马 紀纪 級级 結结 給给 統统 維维 綫线 "
    "緊紧 總总 織织 續续 纜缆 記记 訊讯 評评 試试 詢询 詳详 語语 誠诚 調调 談谈 請请 論论 證证 "
    "議议 護护 讚赞 負负 貢贡 財财 責责 貴贵 費费 資资 賠赔 贈赠 趕赶 躍跃 輕轻 載载 輸输 辭辞 "
    "農农 郵邮 鄉乡 酬酬 釋释 錶表 閱阅 陸陆 雜杂 離离 靜静 風风 飯饭 養养 館馆 驗验 體体 鬧闹 "
    "龍龙 龜龟 麼么 齊齐 齒齿 億亿 儲储 優优 兒儿 內内 兩两 凍冻 劇剧 勞劳 勢势 勵励 "
    "參参 叢丛 嚴严 圍围 報报 塊块 壇坛 夠够 奪夺 嬰婴 審审 寬宽 將将 導导 層层 歲岁 "
    "幣币 幾几 庫库 廳厅 彈弹 徑径 憂忧 戰战 擔担 據据 擁拥 擊击 撥拨 攜携 敵敌 數数 "
    "斷断 舊旧 暫暂 術术 樓楼 標标 檢检 權权 歐欧 殺杀 氣气 滿满 漢汉 濕湿 灣湾 燈灯 "
    "爭争 獎奖 獨独 環环 甦苏 畫画 異异 瘡疮 發发 盤盘 眾众 禮礼 稅税 窮穷 筆笔 範范 "
    "籃篮 糧粮 紛纷 練练 縣县 罰罚 聖圣 腳脚 興兴 舉举 艦舰 莊庄 蘇苏 號号 蟲虫 補补 "
    "襪袜 觀观 觸触 訴诉 訪访 診诊 該该 詞词 誰谁 諮咨 謀谋 講讲 變变 豐丰 賓宾 質质 "
    "購购 贏赢 蹤踪 軍军 較较 輛辆 辦办 遊游 適适 選选 遺遗 醜丑 鏈链 鑰钥 閃闪 隻只 "
    "雲云 電电 靈灵 韓韩 順顺 預预 領领 頻频 題题 颱台 餘余 駛驶 驚惊 髮发 鬥斗"
)
_T2S: dict[int, str] = {}
for _pair in _T2S_PAIRS.split():
    if len(_pair) == 2 and _pair[0] != _pair[1]:
        _T2S[ord(_pair[0])] = _pair[1]

_WS_RE = re.compile(r"\s+")


def to_half_width(text: str) -> str:
    """Map full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space to their half-width forms.

    NFKC already does this; the function exists so callers that must not apply the rest of NFKC (e.g. span
    preserving entity extraction) can use it: it maps one character to exactly one character.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones from the built-in table (1 char → 1 char)."""
    return text.translate(_T2S)


def normalize(text: str, *, simplified: bool = False) -> str:
    """Return the canonical form used for matching: NFKC, half width, casefolded, whitespace collapsed.

    ``simplified=True`` additionally maps traditional Chinese characters to simplified ones.
    """
    text = unicodedata.normalize("NFKC", text)
    text = to_half_width(text).casefold()
    if simplified:
        text = to_simplified(text)
    return _WS_RE.sub(" ", text).strip()


# (language code, predicate on a code point). The order matters only for ties; extend by appending.
_SCRIPTS: list[tuple[str, tuple[tuple[int, int], ...]]] = [
    ("ja", ((0x3040, 0x30FF), (0x31F0, 0x31FF))),  # kana; checked before Han (Japanese also uses Han)
    ("ko", ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))),
    ("zh", ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))),
    ("ru", ((0x0400, 0x04FF),)),
    ("ar", ((0x0600, 0x06FF),)),
    ("th", ((0x0E00, 0x0E7F),)),
    ("en", ((0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F))),
]


def _script_of(code: int) -> str | None:
    for lang, ranges in _SCRIPTS:
        for lo, hi in ranges:
            if lo <= code <= hi:
                return lang
    return None


def detect_language(text: str, *, default: str = "und") -> str:
    """Guess the language from the script of the letters: ``"zh"``, ``"en"``, ``"ja"``, ``"ko"``, ...

    Rules: any kana → ``"ja"``; otherwise Han characters count three times a Latin letter (a Chinese word
    carries as much as a short English word), and the script with the largest weight wins. Latin script maps
    to ``"en"`` (the only Latin-script language we serve today). Returns ``default`` when there are no letters.
    """
    counts: dict[str, float] = {}
    for ch in unicodedata.normalize("NFKC", text):
        lang = _script_of(ord(ch))
        if lang is not None:
            counts[lang] = counts.get(lang, 0.0) + (3.0 if lang == "zh" else 1.0)
    if not counts:
        return default
    if "ja" in counts:
        return "ja"
    return max(counts.items(), key=lambda kv: kv[1])[0]
