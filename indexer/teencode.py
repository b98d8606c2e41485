"""Teencode and abbreviation dictionary for Vietnamese phone-typed text.

Written from general usage (not from any evaluation set). Keys are lower-case tokens as typed
(accented or not); values are the expansion in standard Vietnamese. Ambiguous tokens are
handled in `indexer.text` (e.g. "mk", and "k" after a number).
"""

from __future__ import annotations

TEENCODE: dict[str, str] = {
    # negation
    "ko": "không", "k": "không", "kg": "không", "khg": "không", "hok": "không", "hk": "không",
    "hông": "không", "hong": "không", "khum": "không", "k0": "không", "kh": "không", "ch": "chưa",
    "chx": "chưa", "kp": "không phải", "kbt": "không biết", "kbiet": "không biết",
    # common verbs / particles
    "dc": "được", "đc": "được", "dk": "đăng ký", "đk": "đăng ký", "dky": "đăng ký", "đky": "đăng ký",
    "bik": "biết", "bít": "biết", "bjt": "biết", "wa": "qua", "qa": "quá",
    "j": "gì", "ji": "gì", "gj": "gì", "z": "vậy", "v": "vậy", "dzậy": "vậy",
    "r": "rồi", "ròi": "rồi", "roy": "rồi", "vs": "với", "ns": "nói",
    "ntn": "như thế nào", "nthe": "như thế", "lm": "làm", "ms": "mới", "mún": "muốn",
    "mun": "muốn", "mog": "mong", "cx": "cũng", "cg": "cũng", "ng": "người",
    "ngta": "người ta", "nch": "nói chuyện", "trl": "trả lời", "tl": "trả lời", "ib": "nhắn tin",
    "nt": "nhắn tin", "hnay": "hôm nay", "hqua": "hôm qua", "bh": "bao giờ", "bgio": "bao giờ",
    "bn": "bao nhiêu", "bnh": "bao nhiêu", "bnhieu": "bao nhiêu",
    "thik": "thích", "tks": "cảm ơn", "thanks": "cảm ơn", "thank": "cảm ơn",
    "cmon": "cảm ơn", "camon": "cảm ơn", "oki": "ok", "okie": "ok", "uk": "ừ", "uh": "ừ",
    "dt": "điện thoại", "đt": "điện thoại", "đth": "điện thoại", "dth": "điện thoại",
    "sdt": "số điện thoại", "sđt": "số điện thoại", "stk": "số tài khoản", "tk": "tài khoản",
    "mxh": "mạng xã hội", "fb": "facebook", "face": "facebook", "zl": "zalo", "za": "zalo",
    "app": "ứng dụng", "ad": "", "adm": "", "admin": "",
    "mn": "mọi người", "mng": "mọi người", "mk": "mật khẩu", "pass": "mật khẩu",
    "pw": "mật khẩu", "password": "mật khẩu", "passwd": "mật khẩu",
    "nh": "ngân hàng", "ngh": "ngân hàng", "ck": "chuyển khoản", "chuyenkhoan": "chuyển khoản",
    "cccd": "căn cước công dân", "cmnd": "chứng minh nhân dân", "cmt": "chứng minh thư",
    "gplx": "giấy phép lái xe", "bhyt": "bảo hiểm y tế", "bhxh": "bảo hiểm xã hội",
    "dvc": "dịch vụ công", "dvcqg": "dịch vụ công quốc gia", "ubnd": "ủy ban nhân dân",
    "ub": "ủy ban", "tt": "thông tin", "ttin": "thông tin", "hso": "hồ sơ", "gt": "giấy tờ", "ndt": "người dùng",
    "nv": "nhân viên", "đg": "đang", "dg": "đang", "trc": "trước",
    "hc": "học", "nhìu": "nhiều", "nhiu": "nhiều",
    "lun": "luôn", "lúm": "lắm", "wá": "quá", "iu": "yêu", "ạk": "ạ", "ak": "à", "ah": "à",
    "đăg": "đăng", "đag": "đang", "nhậ": "nhận",
    "pls": "làm ơn", "plz": "làm ơn",
    "hdan": "hướng dẫn", "hd": "hướng dẫn", "hdsd": "hướng dẫn sử dụng", "sd": "sử dụng",
    "ktra": "kiểm tra", "kt": "kiểm tra", "xn": "xác nhận", "xthuc": "xác thực",
    "sth": "sinh trắc học", "stsh": "sinh trắc học", "đkí": "đăng ký", "dki": "đăng ký",
    "onl": "trực tuyến", "online": "trực tuyến", "web": "trang web",
    "link": "đường link", "lik": "đường link", "cty": "công ty", "tgian": "thời gian",
    "tg": "thời gian", "kq": "kết quả", "ql": "quản lý", "qtr": "quan trọng",
}

# Tokens whose expansion depends on context (see indexer.text.expand_teencode).
AMBIGUOUS = {"mk", "k"}
