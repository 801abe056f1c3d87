# Reference values from R metafor for influence diagnostics, Baujat data and GOSH
# (src/meta_analysis/influence.py and gosh.py).
#
# Run from the repository root:   Rscript tests/reference/make_reference_influence.R
# Writes tests/reference/influence_reference.json, which is committed: the tests never need R.
# Iterative tau2 estimators are run to convergence (threshold 1e-13), as in make_reference.R.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

ctrl <- list(threshold = 1e-13, tol = 1e-13, maxiter = 10000)

influence_fields <- function(yi, vi, method, test = "z") {
  res <- rma(yi, vi, method = method, test = test, control = ctrl)
  inf <- influence(res)
  list(method = method, test = test, rstudent = inf$inf$rstudent, dffits = inf$inf$dffits,
       cook_d = inf$inf$cook.d, cov_r = inf$inf$cov.r, tau2_del = inf$inf$tau2.del,
       qe_del = inf$inf$QE.del, hat = inf$inf$hat, weight = inf$inf$weight,
       dfbetas = inf$dfbs$intrcpt, influential = inf$is.infl)
}

baujat_fields <- function(yi, vi, method, test = "z") {
  res <- rma(yi, vi, method = method, test = test, control = ctrl)
  pdf(NULL)
  b <- baujat(res)
  invisible(dev.off())
  list(method = method, test = test, x = b$x, y = b$y)
}

gosh_fields <- function(yi, vi, method) {
  res <- rma(yi, vi, method = method, control = ctrl)
  g <- gosh(res, progbar = FALSE)
  # each subset as an integer code: study j (1-based) included adds 2^(j - 1)
  code <- as.vector(g$incl %*% 2^(seq_len(ncol(g$incl)) - 1))
  list(method = method, code = code, k = g$res$k, q = g$res$QE, i2 = g$res$I2, h2 = g$res$H2,
       tau2 = g$res$tau2, estimate = g$res$estimate)
}

sets <- list(
  # log risk ratios, BCG vaccine trials (Colditz et al. 1994)
  bcg = escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg),
  # standardised mean differences (Normand 1999)
  normand = escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                   data = dat.normand1999),
  # Fisher z of correlations (Molloy et al. 2014)
  molloy = escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014),
  # risk differences where DerSimonian-Laird tau2 is 0 (Hine et al. 1989)
  hine = escalc("RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hine1989)
)

ref <- list(metafor_version = as.character(packageVersion("metafor")))
for (name in names(sets)) {
  d <- sets[[name]]
  yi <- c(d$yi)
  vi <- c(d$vi)
  ref[[name]] <- list(yi = yi, vi = vi,
                      influence = list(REML = influence_fields(yi, vi, "REML"),
                                       DL = influence_fields(yi, vi, "DL"),
                                       FE = influence_fields(yi, vi, "FE"),
                                       REML_knha = influence_fields(yi, vi, "REML", "knha")),
                      baujat = list(FE = baujat_fields(yi, vi, "FE"),
                                    REML = baujat_fields(yi, vi, "REML"),
                                    DL_knha = baujat_fields(yi, vi, "DL", "knha")))
}
# GOSH on small sets: every subset (2^9 - 1 = 511 for Normand, 2^6 - 1 = 63 for Hine)
ref$normand$gosh <- list(FE = gosh_fields(ref$normand$yi, ref$normand$vi, "FE"),
                         DL = gosh_fields(ref$normand$yi, ref$normand$vi, "DL"),
                         REML = gosh_fields(ref$normand$yi, ref$normand$vi, "REML"))
ref$hine$gosh <- list(FE = gosh_fields(ref$hine$yi, ref$hine$vi, "FE"),
                      DL = gosh_fields(ref$hine$yi, ref$hine$vi, "DL"))

write_json(ref, "tests/reference/influence_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote tests/reference/influence_reference.json with metafor", ref$metafor_version, "\n")
