// Dynamic registration is done: tell the LMS window that opened us to close this one.
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
