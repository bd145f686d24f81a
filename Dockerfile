# The platform's image: API and worker are the same image with different commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY models/__init__.py models/__init__.py
RUN pip install --upgrade pip && pip install -e . && rm -rf models

COPY . .
RUN pip install -e . \
    && useradd --create-home --uid 10001 c2b \
    && chown -R c2b /app
USER c2b

EXPOSE 8000
CMD ["c2b", "api", "--host", "0.0.0.0", "--port", "8000"]
